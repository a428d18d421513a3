// The YAML shape of an inventory, checked by zod. Every field is optional here on purpose: presence and meaning
// are checked by the rules (rules.ts), so one missing field never hides the other problems.
import { z } from 'zod'
import { COMPRESSIONS } from '../backup/codec.ts'

const port = z.number().int().min(1).max(65535)
const ms = z.number().int().positive()

export const SshSchema = z.strictObject({
  user: z.string().min(1).optional(),
  port: port.optional(),
  identityFile: z.string().min(1).optional(),
  knownHosts: z.string().min(1).optional(),
  acceptNewHostKeys: z.boolean().optional(),
  jumpHost: z.string().min(1).optional(),
  sudo: z.boolean().optional(),
  agent: z.boolean().optional(),
  passphraseEnv: z.string().min(1).optional(),
  connectTimeoutMs: ms.optional(),
  commandTimeoutMs: ms.optional(),
  concurrency: z.number().int().min(1).max(256).optional(),
})

const label = z.union([z.string(), z.number(), z.boolean()])

/** An out-of-band fence agent (STONITH): command templates run on the operator's machine. Checked in rules.ts. */
export const FenceSchema = z.strictObject({
  off: z.union([z.string().min(1), z.array(z.string())]).optional(),
  on: z.union([z.string().min(1), z.array(z.string())]).optional(),
  status: z.union([z.string().min(1), z.array(z.string())]).optional(),
  offPattern: z.string().min(1).optional(),
  vars: z.record(z.string(), label).optional(),
  timeoutMs: ms.optional(),
})

export const HostSchema = z.strictObject({
  address: z.string().min(1).optional(),
  transport: z.enum(['ssh', 'local', 'docker-exec']).optional(),
  container: z.string().min(1).optional(),
  roles: z.array(z.string()).optional(),
  labels: z.record(z.string(), label).optional(),
  hostKeys: z.array(z.string()).optional(),
  ssh: SshSchema.optional(),
  fence: FenceSchema.optional(),
})

export const SiteSchema = z.strictObject({
  hosts: z.array(z.string()).optional(),
  fence: FenceSchema.optional(),
})

export const EtcdSchema = z.strictObject({
  clientPort: port.optional(),
  peerPort: port.optional(),
  caFile: z.string().min(1).optional(),
  certFile: z.string().min(1).optional(),
  keyFile: z.string().min(1).optional(),
  dataDir: z.string().min(1).optional(),
  container: z.string().min(1).optional(),
})

export const KubernetesSchema = z.strictObject({
  kubeconfig: z.string().min(1).optional(),
  apiserverPort: port.optional(),
  apiserverContainer: z.string().min(1).optional(),
  kubeletContainer: z.string().min(1).optional(),
})

/** One shape for every store type; which fields a type needs (and allows) is a rule, with a readable message. */
export const StoreSchema = z.strictObject({
  type: z.string().optional(),
  path: z.string().min(1).optional(),
  host: z.string().min(1).optional(),
  bucket: z.string().min(1).optional(),
  prefix: z.string().optional(),
  endpoint: z.string().min(1).optional(),
  region: z.string().min(1).optional(),
  forcePathStyle: z.boolean().optional(),
  accessKeyEnv: z.string().min(1).optional(),
  secretKeyEnv: z.string().min(1).optional(),
})

export const STORE_FIELDS = {
  dir: { required: ['path'], allowed: ['path'] },
  sftp: { required: ['host', 'path'], allowed: ['host', 'path'] },
  s3: {
    required: ['bucket'],
    allowed: ['bucket', 'prefix', 'endpoint', 'region', 'forcePathStyle', 'accessKeyEnv', 'secretKeyEnv'],
  },
} as const

const count = z.number().int().min(0)

export const BackupSchema = z.strictObject({
  stores: z.record(z.string(), StoreSchema).optional(),
  defaultStore: z.string().min(1).optional(),
  encryption: z
    .strictObject({
      recipients: z.array(z.string()).optional(),
      identityFile: z.string().min(1).optional(),
    })
    .optional(),
  schedule: z.string().min(1).optional(),
  retention: z
    .strictObject({ last: count.optional(), daily: count.optional(), weekly: count.optional(), monthly: count.optional() })
    .optional(),
  metricsFile: z.string().min(1).optional(),
  /** brotli (default), gzip or none: see src/backup/codec.ts. */
  compression: z.enum(COMPRESSIONS).optional(),
})

export const InventorySchema = z.strictObject({
  cluster: z.string().min(1).optional(),
  flavor: z.string().optional(),
  ssh: SshSchema.optional(),
  etcd: EtcdSchema.optional(),
  kubernetes: KubernetesSchema.optional(),
  sites: z.record(z.string(), SiteSchema.nullable()).optional(),
  hosts: z.record(z.string(), HostSchema.nullable()).optional(),
  backup: BackupSchema.optional(),
  stateDir: z.string().min(1).optional(),
})

export type RawInventory = z.infer<typeof InventorySchema>
export type RawHost = z.infer<typeof HostSchema>
export type RawSsh = z.infer<typeof SshSchema>
export type RawFence = z.infer<typeof FenceSchema>

type AnySchema = z.ZodType

function unwrap(s: AnySchema): AnySchema {
  let cur = s as unknown as { _zod: { def: { type: string; innerType?: AnySchema } } }
  while (['optional', 'nullable', 'default'].includes(cur._zod.def.type) && cur._zod.def.innerType) {
    cur = cur._zod.def.innerType as unknown as typeof cur
  }
  return cur as unknown as AnySchema
}

/** The keys an object at `path` may have, for "did you mean" on unknown keys. */
export function knownKeysAt(path: Array<string | number>, schema: AnySchema = InventorySchema): string[] {
  let s: AnySchema | undefined = schema
  for (const seg of path) {
    if (!s) return []
    const def: Record<string, any> = (unwrap(s) as unknown as { _zod: { def: Record<string, any> } })._zod.def
    if (def.type === 'object') s = def.shape[seg]
    else if (def.type === 'record') s = def.valueType
    else if (def.type === 'array') s = def.element
    else return []
  }
  if (!s) return []
  const def = (unwrap(s) as unknown as { _zod: { def: Record<string, any> } })._zod.def
  return def.type === 'object' ? Object.keys(def.shape) : []
}
