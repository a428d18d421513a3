// One backup run as `dr backup now` and the daemon do it: pick the member, connect, take the snapshot into the
// store, record metrics (success or failure), and verify when asked.
import fsp from 'node:fs/promises'
import path from 'node:path'
import { readFileSync } from 'node:fs'
import { DrError } from '../core/error.ts'
import type { Output } from '../core/output.ts'
import { formatBytes, formatDuration } from '../core/output.ts'
import type { Inventory, StoreConfig } from '../inventory/types.ts'
import { hostsWithRole } from '../inventory/types.ts'
import { snapshotTarget } from '../etcd/client.ts'
import { parseIdentityFile } from './age-stream.ts'
import { chooseSnapshotMember } from './member.ts'
import { recordRun } from './metrics.ts'
import { openStore, type BackupStore, type TransportSource } from './store.ts'
import { takeBackup, type TakenBackup } from './take.ts'
import type { RetryPolicy } from './upload.ts'
import { verifyBackup, type VerifyReport } from './verify.ts'
import { payloadName } from './naming.ts'

export const drVersion: string = (() => {
  try {
    return JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version
  } catch {
    return 'unknown'
  }
})()

export function storeConfig(inv: Inventory, name?: string): StoreConfig {
  const stores = inv.backup.stores
  const chosen = name ?? inv.backup.defaultStore ?? (Object.keys(stores).length === 1 ? Object.keys(stores)[0] : undefined)
  if (!chosen) {
    throw new DrError({
      code: 'backup.no-store',
      message: Object.keys(stores).length === 0 ? `the inventory ${inv.file} configures no backup store` : 'more than one backup store and no default',
      hint: Object.keys(stores).length === 0 ? 'add backup.stores (dir, sftp or s3) to the inventory' : `pass --store (one of: ${Object.keys(stores).join(', ')}) or set backup.defaultStore`,
      exit: 'usage',
    })
  }
  const cfg = stores[chosen]
  if (!cfg) throw new DrError({ code: 'backup.unknown-store', message: `no backup store named "${chosen}"`, hint: `stores in the inventory: ${Object.keys(stores).join(', ') || '(none)'}`, exit: 'usage' })
  return cfg
}

export async function openNamedStore(inv: Inventory, conns: TransportSource, name?: string): Promise<BackupStore> {
  return openStore(storeConfig(inv, name), { transports: conns })
}

export async function readIdentities(inv: Inventory, file?: string): Promise<string[]> {
  const f = file ?? inv.backup.identityFile
  if (!f) return []
  try {
    return parseIdentityFile(await fsp.readFile(f, 'utf8'))
  } catch (e) {
    throw new DrError({ code: 'backup.identity-unreadable', message: `cannot read the age identity file ${f}: ${(e as Error).message}`, hint: 'check backup.encryption.identityFile', exit: 'usage' })
  }
}

export const spoolDir = (inv: Inventory) => path.join(inv.stateDir, 'backups', 'spool')

export interface RunBackupOptions {
  store?: string
  member?: string
  verify?: boolean
  out: Output
  signal?: AbortSignal
  retry?: RetryPolicy
}

export interface RunBackupResult {
  taken: TakenBackup
  store: string
  member: { host: string; why: string }
  verify?: VerifyReport
}

/** The member a backup is taken from: --member, else a healthy follower. */
async function pickMember(inv: Inventory, conns: TransportSource, o: { member?: string; out: Output }): Promise<{ host: string; why: string }> {
  if (o.member) {
    if (!inv.hosts[o.member]?.roles.includes('etcd')) {
      throw new DrError({ code: 'backup.not-a-member', message: `${o.member} is not an etcd host in the inventory`, hint: `etcd hosts: ${hostsWithRole(inv, 'etcd').map((h) => h.name).join(', ')}`, exit: 'usage' })
    }
    return { host: o.member, why: 'chosen with --member' }
  }
  const { probeCluster } = await import('../etcd/status.ts')
  o.out.progress('probing etcd members to pick a healthy follower')
  const cluster = await probeCluster(conns, inv)
  const choice = chooseSnapshotMember(cluster.members)
  if (!choice.host) throw new DrError({ code: 'backup.no-member', message: choice.why, hint: 'check the cluster with `dr status`', exit: 'failed' })
  return { host: choice.host, why: choice.why }
}

export interface BackupPlan {
  member: { host: string; why: string }
  store: string
  type: StoreConfig['type']
  location: string
  encrypted: boolean
  verify: boolean
}

/** What `dr backup now` would do, reading only: the member it would snapshot and where the backup would go. */
export async function planBackup(inv: Inventory, conns: TransportSource, o: RunBackupOptions): Promise<BackupPlan> {
  const cfg = storeConfig(inv, o.store)
  const member = await pickMember(inv, conns, o)
  const store = await openStore(cfg, { transports: conns })
  try {
    const encrypted = inv.backup.recipients.length > 0
    return { member, store: cfg.name, type: cfg.type, location: store.location(payloadName(`${inv.cluster}_<time>_r<revision>`, { compression: inv.backup.compression, encrypted })), encrypted, verify: !!o.verify }
  } finally {
    await store.close()
  }
}

export async function runBackup(inv: Inventory, conns: TransportSource, o: RunBackupOptions): Promise<RunBackupResult> {
  const started = Date.now()
  const cfg = storeConfig(inv, o.store)
  // An SFTP store's SSH connection is opened while the members are probed, not after: the upload starts with the
  // snapshot's first bytes. A failure here is not kept (connect.ts): the upload's own attempt reports it.
  if (cfg.type === 'sftp') conns.get(cfg.host).catch(() => undefined)
  let taken: TakenBackup | undefined
  // A backup that fails its verification counts as a failed run: it cannot be trusted.
  let ok = false
  try {
    const { probeMember } = await import('../etcd/status.ts')
    const member = await pickMember(inv, conns, o)
    o.out.progress(`snapshotting ${member.host} (${member.why})`)
    const probe = await probeMember(conns, inv, member.host, { keep: true, timeoutMs: 5000 })
    if (!probe.conn) throw new DrError({ code: 'backup.member-unreachable', message: `cannot reach etcd on ${member.host}: ${probe.status.error}`, host: member.host, hint: 'pick another member with --member, or check `dr status`' })
    const store = await openStore(cfg, { transports: conns })
    try {
      taken = await takeBackup({
        cluster: inv.cluster,
        member: { host: member.host, endpoint: probe.conn.endpoint, client: probe.conn.client, snapshot: snapshotTarget(probe.conn) },
        store,
        recipients: inv.backup.recipients,
        compression: inv.backup.compression,
        spoolDir: spoolDir(inv),
        retry: o.retry,
        drVersion,
        signal: o.signal,
        onRetry: (attempt, delay, err) => o.out.warn(`store "${cfg.name}" failed (${(err as Error).message?.split('\n')[0]}); attempt ${attempt} in ${formatDuration(delay)}`),
      })
      o.out.progress(`stored ${taken.metadata.id} (${formatBytes(taken.metadata.stored.size)}) at ${taken.location} in ${formatDuration(taken.durationMs)}`)
      let verify: VerifyReport | undefined
      if (o.verify) {
        o.out.progress(`verifying ${taken.metadata.id} (fetch, decrypt, restore into a throwaway etcd)`)
        verify = await verifyBackup(store, taken.metadata.id, { identities: await readIdentities(inv), signal: o.signal })
      }
      ok = !verify || verify.ok
      return { taken, store: cfg.name, member, verify }
    } finally {
      await probe.conn.close().catch(() => {})
      await store.close()
    }
  } finally {
    if (inv.backup.metricsFile) {
      await recordRun(inv.backup.metricsFile, {
        cluster: inv.cluster,
        store: cfg.name,
        ok,
        at: new Date(),
        durationMs: Date.now() - started,
        sizeBytes: ok ? taken?.metadata.stored.size : undefined,
      }).catch((e) => o.out.warn(`could not write metrics to ${inv.backup.metricsFile}: ${(e as Error).message}`))
    }
  }
}
