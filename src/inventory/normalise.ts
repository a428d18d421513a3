// From the checked YAML shape to the Inventory every module reads: defaults filled in per flavor, per-host ssh
// settings merged, relative paths made absolute against the inventory file's folder.
import os from 'node:os'
import path from 'node:path'
import type { RawInventory, RawSsh } from './schema.ts'
import { mergeFence } from './fence-agent.ts'
import { DEFAULT_TRANSPORT, ETCD_DEFAULTS, KUBE_DEFAULTS, RETENTION_DEFAULTS, SSH_DEFAULTS } from './defaults.ts'
import type { Flavor, Host, Inventory, Role, SshSettings, StoreConfig } from './types.ts'
import { DEFAULT_COMPRESSION } from '../backup/codec.ts'

/** `~/x` → home, relative → against the inventory's folder, absolute unchanged. */
export function resolvePath(dir: string, p: string): string {
  if (p === '~' || p.startsWith('~/')) return path.join(os.homedir(), p.slice(1))
  return path.resolve(dir, p)
}

function mergeSsh(base: SshSettings, over: RawSsh | undefined, dir: string): SshSettings {
  const o = { ...(over ?? {}) }
  if (o.identityFile) o.identityFile = resolvePath(dir, o.identityFile)
  if (o.knownHosts) o.knownHosts = resolvePath(dir, o.knownHosts)
  return { ...base, ...(Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<SshSettings>) }
}

/** Assumes the rules found no errors (every host has an address, the flavor is known, sites are consistent). */
export function normalise(raw: RawInventory, file: string): Inventory {
  const dir = path.dirname(file)
  const flavor = raw.flavor as Flavor
  const cluster = raw.cluster as string
  const ssh = mergeSsh(SSH_DEFAULTS, raw.ssh, dir)

  const siteOf = new Map<string, string>()
  const sites: Inventory['sites'] = {}
  for (const [name, s] of Object.entries(raw.sites ?? {})) {
    sites[name] = { name, hosts: [...(s?.hosts ?? [])] }
    for (const h of s?.hosts ?? []) siteOf.set(h, name)
  }

  const hosts: Record<string, Host> = {}
  for (const [name, h] of Object.entries(raw.hosts ?? {})) {
    const transport = h?.transport ?? DEFAULT_TRANSPORT[flavor]
    hosts[name] = {
      name,
      site: siteOf.get(name) as string,
      address: h?.address ?? '127.0.0.1',
      transport,
      // kind names its node containers after the nodes, so the host name is the container name by default.
      container: transport === 'docker-exec' ? (h?.container ?? name) : h?.container,
      roles: (h?.roles ?? []) as Role[],
      labels: Object.fromEntries(Object.entries(h?.labels ?? {}).map(([k, v]) => [k, String(v)])),
      ssh: withoutSelfJump(mergeSsh(ssh, h?.ssh, dir), name),
      hostKeys: [...(h?.hostKeys ?? [])],
      fence: mergeFence(raw.sites?.[siteOf.get(name) as string]?.fence, h?.fence),
    }
  }

  const stores: Record<string, StoreConfig> = {}
  for (const [name, s] of Object.entries(raw.backup?.stores ?? {})) {
    if (s.type === 'dir') stores[name] = { name, type: 'dir', path: resolvePath(dir, s.path as string) }
    else if (s.type === 'sftp') stores[name] = { name, type: 'sftp', host: s.host as string, path: s.path as string }
    else
      stores[name] = {
        name,
        type: 's3',
        bucket: s.bucket as string,
        prefix: s.prefix ?? '',
        endpoint: s.endpoint,
        region: s.region ?? 'us-east-1',
        forcePathStyle: s.forcePathStyle ?? false,
        accessKeyEnv: s.accessKeyEnv,
        secretKeyEnv: s.secretKeyEnv,
      }
  }
  const b = raw.backup ?? {}
  const kube = { ...KUBE_DEFAULTS[flavor], ...stripUndefined(raw.kubernetes ?? {}) }
  if (kube.kubeconfig) kube.kubeconfig = resolvePath(dir, kube.kubeconfig)

  return {
    file,
    cluster,
    flavor,
    ssh,
    sites,
    hosts,
    etcd: { ...ETCD_DEFAULTS[flavor], ...stripUndefined(raw.etcd ?? {}) },
    kubernetes: kube,
    backup: {
      stores,
      defaultStore: b.defaultStore ?? (Object.keys(stores).length === 1 ? Object.keys(stores)[0] : undefined),
      recipients: [...(b.encryption?.recipients ?? [])],
      identityFile: b.encryption?.identityFile ? resolvePath(dir, b.encryption.identityFile) : undefined,
      schedule: b.schedule,
      retention: { ...RETENTION_DEFAULTS, ...stripUndefined(b.retention ?? {}) },
      metricsFile: b.metricsFile ? resolvePath(dir, b.metricsFile) : undefined,
      compression: b.compression ?? DEFAULT_COMPRESSION,
    },
    stateDir: raw.stateDir ? resolvePath(dir, raw.stateDir) : path.join(dir, '.dr', cluster),
  }
}

/** The inventory-wide jumpHost does not apply to the jump host itself. */
function withoutSelfJump(s: SshSettings, name: string): SshSettings {
  return s.jumpHost === name ? { ...s, jumpHost: undefined } : s
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
