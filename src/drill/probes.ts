// The steady-state hypothesis: probes that change nothing but a short-lived probe key. Quorum read and write,
// every apiserver of the serving sites ready, the sample workload's objects still there, and (to tell whether
// the rollbacks put the cluster back) the member list as it was found.
import type { Inventory } from '../inventory/types.ts'
import { hostsInSite, hostsWithRole } from '../inventory/types.ts'
import { connectMember, type TransportSource } from '../etcd/client.ts'
import { proveWrite } from '../etcd/ops.ts'
import { probeCluster } from '../etcd/status.ts'
import { connectKube, getHealth } from '../kube/client.ts'
import type { ProbeResult, SteadyState } from './types.ts'

/** What the cluster looked like before the drill: what the probes after it compare with. */
export interface Baseline {
  members: string[]
  /** Pods of the sample workload: name → node. */
  pods: Record<string, string>
}

export const WORKLOAD_SELECTOR = 'app=hello-world'

const message = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 200)

export async function quorumProbe(conns: TransportSource, inv: Inventory): Promise<ProbeResult & { members: string[] }> {
  const s = await probeCluster(conns, inv, { timeoutMs: 3000 })
  const members = s.memberList.map((m) => m.name).sort()
  const through = s.members.find((m) => m.quorumRead)
  if (!through) {
    const why = s.members.map((m) => `${m.host}: ${m.error ?? m.errors.join('; ') ?? 'no answer'}`).join('; ')
    return { name: 'quorum read and write', ok: false, detail: `no member answered a linearizable read (${why})`, members }
  }
  const c = await connectMember(conns, inv, through.host, { callTimeoutMs: 5000 })
  try {
    await proveWrite(c.client, `drill-${process.pid}`)
    return { name: 'quorum read and write', ok: true, detail: `read and write through ${through.host}; members: ${members.join(', ')}`, members }
  } catch (e) {
    return { name: 'quorum read and write', ok: false, detail: `read through ${through.host} worked, the write failed: ${message(e)}`, members }
  } finally {
    await c.close()
  }
}

/** Every apiserver of the serving sites answers /readyz with 200; returns the ready ones for the workload probe. */
export async function apiserverProbe(conns: TransportSource, inv: Inventory, sites: string[]): Promise<ProbeResult & { ready: string[] }> {
  const hosts = hostsWithRole(inv, 'controlplane').filter((h) => sites.includes(h.site))
  const results = await Promise.all(
    hosts.map(async (h) => {
      try {
        const k = await connectKube(conns, inv, h.name)
        try {
          const r = await getHealth(k.kc, '/readyz', 6000)
          return { host: h.name, ok: r.status === 200, why: r.status === 200 ? 'ready' : `${r.status} ${r.body.slice(0, 80)}` }
        } finally {
          await k.close()
        }
      } catch (e) {
        return { host: h.name, ok: false, why: message(e) }
      }
    }),
  )
  const ready = results.filter((r) => r.ok).map((r) => r.host)
  return {
    name: `apiservers of site ${sites.join(', ')} ready`,
    ok: results.length > 0 && ready.length === results.length,
    detail: results.map((r) => `${r.host}: ${r.why}`).join('; ') || 'no controlplane host in these sites',
    ready,
  }
}

export async function listWorkload(conns: TransportSource, inv: Inventory, host: string): Promise<Record<string, string>> {
  const k = await connectKube(conns, inv, host)
  try {
    const list = await k.api.listNamespacedPod({ namespace: 'default', labelSelector: WORKLOAD_SELECTOR })
    return Object.fromEntries(list.items.filter((p) => !p.metadata?.deletionTimestamp).map((p) => [p.metadata!.name!, p.spec?.nodeName ?? '']))
  } finally {
    await k.close()
  }
}

/**
 * The sample workload: before the drill, its pods are listed (there must be some); after it, every pod that ran
 * on a node of the serving sites is still there (pods of a lost site's nodes are evicted on purpose by failover).
 */
export async function workloadProbe(conns: TransportSource, inv: Inventory, via: string[], sites: string[], baseline?: Baseline): Promise<ProbeResult & { pods: Record<string, string> }> {
  const name = `sample workload (${WORKLOAD_SELECTOR}) readable`
  if (via.length === 0) return { name, ok: false, detail: 'no ready apiserver to read it through', pods: {} }
  let pods: Record<string, string>
  try {
    pods = await listWorkload(conns, inv, via[0])
  } catch (e) {
    return { name, ok: false, detail: `listing pods through ${via[0]} failed: ${message(e)}`, pods: {} }
  }
  if (!baseline) {
    const n = Object.keys(pods).length
    return { name, ok: n > 0, detail: n > 0 ? `${n} pods through ${via[0]}` : `no pods labelled ${WORKLOAD_SELECTOR}`, pods }
  }
  const siteHosts = new Set(sites.flatMap((s) => hostsInSite(inv, s).map((h) => h.name)))
  const expected = Object.entries(baseline.pods).filter(([, node]) => siteHosts.has(node)).map(([p]) => p)
  const missing = expected.filter((p) => !(p in pods))
  return {
    name,
    ok: missing.length === 0 && expected.length > 0,
    detail: missing.length ? `missing: ${missing.join(', ')}` : `${expected.length} pods of site ${sites.join(', ')} still there (${Object.keys(pods).length} listed through ${via[0]})`,
    pods,
  }
}

/** The whole hypothesis, once. workloadSites: whose sample pods must still be there (default: sites). */
export async function steadyState(conns: TransportSource, inv: Inventory, sites: string[], baseline?: Baseline, workloadSites = sites): Promise<{ state: SteadyState; baseline: Baseline }> {
  const started = Date.now()
  const safe = async <T extends ProbeResult>(name: string, fn: () => Promise<T>, fallback: Omit<T, keyof ProbeResult>): Promise<T> => {
    try {
      return await fn()
    } catch (e) {
      return { ...fallback, name, ok: false, detail: message(e) } as T
    }
  }
  const q = await safe('quorum read and write', () => quorumProbe(conns, inv), { members: [] as string[] })
  const a = await safe('apiservers ready', () => apiserverProbe(conns, inv, sites), { ready: [] as string[] })
  const w = await workloadProbe(conns, inv, a.ready, workloadSites, baseline)
  const probes: ProbeResult[] = [q, a, w].map(({ name, ok, detail }) => ({ name, ok, detail }))
  return {
    state: { ok: probes.every((p) => p.ok), at: new Date(started).toISOString(), durationMs: Date.now() - started, probes },
    baseline: { members: q.members, pods: w.pods },
  }
}

/** After the rollbacks: the member list as it was found, every member answering, and the hypothesis again. */
export async function putBackProbe(conns: TransportSource, inv: Inventory, baseline: Baseline): Promise<SteadyState> {
  const started = Date.now()
  const s = await probeCluster(conns, inv, { timeoutMs: 3000 })
  const now = s.memberList.map((m) => m.name).sort()
  const answering = s.members.filter((m) => m.listed && m.quorumRead).length
  const same = now.join(',') === baseline.members.join(',')
  const members: ProbeResult = {
    name: 'every member back',
    ok: same && answering === baseline.members.length,
    detail: `members ${now.join(', ') || 'none'} (found: ${baseline.members.join(', ')}); ${answering} answer a quorum read`,
  }
  const sites = Object.keys(inv.sites)
  const { state } = await steadyState(conns, inv, sites)
  const probes = [members, ...state.probes]
  return { ok: probes.every((p) => p.ok), at: new Date(started).toISOString(), durationMs: Date.now() - started, probes }
}
