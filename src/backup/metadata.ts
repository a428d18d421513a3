// The small record stored beside each snapshot: enough to verify it and to restore it without the cluster.
import { z } from 'zod'
import { COMPRESSIONS } from './codec.ts'

export const BackupMetadataSchema = z.object({
  format: z.literal('dr-backup/1'),
  id: z.string(),
  cluster: z.string(),
  /** The inventory host the snapshot was taken from, and its member name and client URL. */
  member: z.object({ host: z.string(), name: z.string().optional(), endpoint: z.string().optional(), id: z.string().optional() }),
  etcdVersion: z.string().optional(),
  /** The store revision the snapshot holds (from the member's status just before and after the snapshot). */
  revision: z.number(),
  /** Set when writes landed while the snapshot was taken: the snapshot's revision is in [revision, revisionMax]. */
  revisionMax: z.number().optional(),
  /** Live keys at `revision` (only when the revision is exact). */
  keyCount: z.number().optional(),
  raftIndex: z.number().optional(),
  createdAt: z.string(),
  durationMs: z.number().optional(),
  /** The raw snapshot, as etcd sent it (bbolt database + etcd's 32-byte sha256 trailer). */
  snapshot: z.object({ size: z.number(), sha256: z.string() }),
  /** The stored object (after compression and encryption). */
  stored: z.object({ name: z.string(), size: z.number(), sha256: z.string() }),
  compression: z.enum(COMPRESSIONS),
  encryption: z.object({ type: z.enum(['age', 'none']), recipients: z.array(z.string()) }),
  drVersion: z.string(),
})
export type BackupMetadata = z.infer<typeof BackupMetadataSchema>

export function encodeMetadata(m: BackupMetadata): Buffer {
  return Buffer.from(JSON.stringify(m, null, 2) + '\n')
}

export function decodeMetadata(data: Buffer | string, where: string): BackupMetadata {
  let raw: unknown
  try {
    raw = JSON.parse(data.toString())
  } catch (e) {
    throw new Error(`${where}: not JSON (${(e as Error).message})`)
  }
  const r = BackupMetadataSchema.safeParse(raw)
  if (!r.success) throw new Error(`${where}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
  return r.data
}
