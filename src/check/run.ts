// `dr check`: gather once (hosts in parallel, then the cluster's view), run the checks of the categories asked
// for, and return every result. The facts are gathered whatever the category: one round trip per host.
import type { Inventory } from '../inventory/types.ts'
import type { Connections } from '../transport/connect.ts'
import type { Output } from '../core/output.ts'
import { collectCluster, collectHosts, type ClusterReport, type HostReport } from './collect.ts'
import { clockOffsetMs, hostChecks, median } from './host-checks.ts'
import { certChecks } from './certs.ts'
import { etcdChecks, kubeChecks } from './cluster-checks.ts'
import { ok, problem, type Category, type CheckResult } from './types.ts'

export interface CheckRun {
  results: CheckResult[]
  hosts: HostReport[]
  cluster: ClusterReport
  durationMs: number
}

export function renewHint(inv: Inventory): string {
  if (inv.flavor === 'rke') return '`rke cert rotate` for an RKE cluster'
  return '`kubeadm certs renew all` on each control-plane node'
}

export function preflightChecks(h: HostReport, inv: Inventory): CheckResult[] {
  const host = inv.hosts[h.host]
  if (h.error) {
    return [problem('fail', 'preflight', 'ssh', h.host, `cannot reach ${h.host} (${host.address}): ${h.error.message}`, h.error.hint ?? `check that ${host.address}:${host.ssh.port} answers ssh and the key is authorised`, [h.error.code])]
  }
  const out = [ok('preflight', 'ssh', h.host, `reached over ${host.transport} in ${h.durationMs} ms`)]
  if (h.sudo) out.push(h.sudo.ok ? ok('preflight', 'sudo', h.host, h.sudo.detail) : problem('fail', 'preflight', 'sudo', h.host, `sudo -n fails: ${h.sudo.detail}`, `allow passwordless sudo for ${host.ssh.user} on ${h.host}, or set ssh.sudo: false`))
  return out
}

export async function backupChecks(inv: Inventory, conns: Connections, now: Date): Promise<CheckResult[]> {
  const out: CheckResult[] = []
  // The backup modules (stores, age, S3) load only when backups are checked.
  const [{ listBackups }, { backupFreshness }, { openNamedStore }] = await Promise.all([import('../backup/catalog.ts'), import('../backup/freshness.ts'), import('../backup/run-backup.ts')])
  for (const name of Object.keys(inv.backup.stores)) {
    try {
      const store = await openNamedStore(inv, conns, name)
      const entries = await listBackups(store, { cluster: inv.cluster })
      await store.close()
      const newest = entries.filter((e) => e.problems.length === 0).at(-1)
      if (!newest && name !== inv.backup.defaultStore && inv.backup.defaultStore) {
        out.push(ok('backups', 'backup-age', `store ${name}`, `no backups (not the default store ${inv.backup.defaultStore})`))
        continue
      }
      const f = backupFreshness({ store: name, newest, schedule: inv.backup.schedule, now })
      out.push(f.severity === 'ok' ? ok('backups', 'backup-age', f.subject, f.message) : problem(f.severity, 'backups', 'backup-age', f.subject, f.message, f.hint ?? ''))
    } catch (e) {
      out.push(problem('fail', 'backups', 'backup-age', `store ${name}`, `cannot list store "${name}": ${(e as Error).message}`, 'check the store configuration and that its host is reachable'))
    }
  }
  return out
}

export async function runChecks(inv: Inventory, conns: Connections, cats: Category[], out?: Output): Promise<CheckRun> {
  const t0 = Date.now()
  const want = new Set(cats)
  out?.progress(`checking ${Object.keys(inv.hosts).length} hosts (${inv.ssh.concurrency} at a time): ${cats.join(', ')}`)
  const hosts = await collectHosts(conns, inv)
  const [cluster, backups] = await Promise.all([
    collectCluster(conns, inv, { etcd: want.has('etcd') || want.has('kubernetes'), kube: want.has('kubernetes') }, hosts),
    want.has('backups') ? backupChecks(inv, conns, new Date()) : Promise.resolve([]),
  ])
  const results: CheckResult[] = []
  const offsets = hosts.map((h) => (h.facts ? clockOffsetMs(h.facts) : undefined)).filter((x): x is number => x !== undefined)
  const mid = median(offsets)
  for (const h of hosts) {
    results.push(...preflightChecks(h, inv))
    if (h.facts && !h.error) {
      results.push(...hostChecks(inv, inv.hosts[h.host], h.facts, mid))
      results.push(...certChecks(h.host, h.certs, new Date(), renewHint(inv)))
    }
  }
  results.push(...etcdChecks(inv, cluster, hosts), ...kubeChecks(inv, cluster, hosts), ...backups)
  return { results: results.filter((r) => want.has(r.category)), hosts, cluster, durationMs: Date.now() - t0 }
}
