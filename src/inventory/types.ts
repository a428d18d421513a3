// The normalised inventory every other module reads. The YAML form is parsed and checked in
// src/inventory/load.ts; relative paths are already resolved against the inventory file's folder here.
import type { Compression } from '../backup/codec.ts'

export type Flavor = 'rke' | 'kubeadm' | 'kind'
export type Role = 'etcd' | 'controlplane' | 'worker'
export const ROLES: readonly Role[] = ['etcd', 'controlplane', 'worker']

export interface SshSettings {
  user: string
  port: number
  identityFile?: string
  /** Env var holding the key's passphrase. */
  passphraseEnv?: string
  /** Use the ssh-agent at $SSH_AUTH_SOCK (never forwarded). */
  agent: boolean
  knownHosts?: string
  /** Accept an unknown host key and record it in knownHosts (never a changed one). */
  acceptNewHostKeys: boolean
  /** Host name from `hosts` (or an address) to jump through. */
  jumpHost?: string
  sudo: boolean
  connectTimeoutMs: number
  commandTimeoutMs: number
  /** At most this many connections at once when fanning out. */
  concurrency: number
}

export interface Host {
  name: string
  site: string
  address: string
  /** The transport used to reach it; 'docker-exec' uses `container` (kind nodes). */
  transport: 'ssh' | 'local' | 'docker-exec'
  container?: string
  roles: Role[]
  labels: Record<string, string>
  /** Per-host overrides of the inventory's ssh settings. */
  ssh: SshSettings
  /** Pinned host-key fingerprints ("SHA256:…"); when set, known_hosts is not consulted. */
  hostKeys: string[]
  /** Out-of-band fence agent (the site's, with this host's fields over it); see src/cluster/power.ts. */
  fence?: FenceAgent
}

/** Command templates run on the operator's machine: `{host}`, `{address}`, `{site}` and `vars` are filled in. */
export interface FenceAgent {
  off: string[]
  on?: string[]
  status: string[]
  /** A regular expression the status output matches when the host is off (default `\\boff\\b`, any case). */
  offPattern: string
  vars: Record<string, string>
  timeoutMs: number
}

export interface Site {
  name: string
  hosts: string[]
}

export interface EtcdSettings {
  clientPort: number
  peerPort: number
  /** Paths on each host; `{ip}`, `{ipDashes}` and `{name}` are replaced per host. */
  caFile: string
  certFile: string
  keyFile: string
  /** The host directory holding the member's data (RKE: /var/lib/etcd, mounted into the container). */
  dataDir: string
  /** Container name of the etcd member (RKE: etcd). */
  container: string
}

export interface KubeSettings {
  kubeconfig?: string
  apiserverPort: number
  apiserverContainer: string
  kubeletContainer: string
}

export type StoreConfig =
  | { name: string; type: 'dir'; path: string }
  | { name: string; type: 'sftp'; host: string; path: string }
  | {
      name: string
      type: 's3'
      bucket: string
      prefix: string
      endpoint?: string
      region: string
      forcePathStyle: boolean
      accessKeyEnv?: string
      secretKeyEnv?: string
    }

export interface BackupSettings {
  stores: Record<string, StoreConfig>
  defaultStore?: string
  /** age recipients (age1…); empty = not encrypted. */
  recipients: string[]
  /** age identity file used by verify/restore. */
  identityFile?: string
  schedule?: string
  retention: { last: number; daily: number; weekly: number; monthly: number }
  /** Where Prometheus textfile metrics go. */
  metricsFile?: string
  /** How snapshots are compressed before encryption (src/backup/codec.ts). */
  compression: Compression
}

export interface Inventory {
  /** The file it was read from (absolute). */
  file: string
  cluster: string
  flavor: Flavor
  ssh: SshSettings
  sites: Record<string, Site>
  hosts: Record<string, Host>
  etcd: EtcdSettings
  kubernetes: KubeSettings
  backup: BackupSettings
  /** Where journals, locks and safety snapshots go (default: .dr/<cluster> beside the inventory). */
  stateDir: string
}

/** Replace `{ip}`, `{ipDashes}`, `{name}` in a per-host path template. */
export function hostPath(template: string, host: Host): string {
  return template
    .replaceAll('{ipDashes}', host.address.replaceAll('.', '-'))
    .replaceAll('{ip}', host.address)
    .replaceAll('{name}', host.name)
}

export const hostsWithRole = (inv: Inventory, role: Role): Host[] =>
  Object.values(inv.hosts).filter((h) => h.roles.includes(role))

export const hostsInSite = (inv: Inventory, site: string): Host[] =>
  (inv.sites[site]?.hosts ?? []).map((n) => inv.hosts[n])
