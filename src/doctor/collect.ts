// What doctor reads beyond `dr check`: hosts that are docker containers on this machine, seen from the local
// engine (their address now, whether it is pinned, etcd's complaints about its peers), and the kubelet's log
// lines about container name conflicts on every reachable host.
import type { Inventory } from '../inventory/types.ts'
import type { Connections } from '../transport/connect.ts'
import type { Output } from '../core/output.ts'
import { runLocal } from '../transport/local.ts'
import { runChecks } from '../check/run.ts'
import { runtimeFor } from '../component/runtime.ts'
import { nodeContainerOf, type DoctorEvidence, type NodeContainerView } from './detect.ts'
import { findStaleContainers, parsePsRows, staleInspectFields, type StaleInspect } from './stale-container.ts'

/** etcd log lines that say a peer cannot be dialled or there is no leader (seed 000). */
export const PEER_TROUBLE = /dial tcp [\d.]+:2380|no route to host|RAFT NO LEADER|lost the TCP streaming connection|failed to publish local member/

/** The last few of those lines in an etcd log, each cut to 300 characters. */
const peerTrouble = (log: string) => log.split('\n').filter((l) => PEER_TROUBLE.test(l)).slice(-6).map((l) => l.slice(0, 300))

export async function localContainerView(host: string, container: string, etcdContainer: string): Promise<NodeContainerView | undefined> {
  const r = await runLocal(['docker', 'inspect', '--format', '{{json .NetworkSettings.Networks}}', container], { timeoutMs: 15_000 })
  if (!r.ok) return undefined // not a container on this machine: nothing to see here
  const nets = JSON.parse(r.stdout) as Record<string, { IPAddress?: string; IPAMConfig?: { IPv4Address?: string } | null }>
  const [network, ep] = Object.entries(nets)[0] ?? []
  if (!network) return undefined
  const logs = await runLocal(['docker', 'exec', container, 'docker', 'logs', '--tail', '200', etcdContainer], { timeoutMs: 15_000 })
  const etcdLog = peerTrouble(logs.stdout + logs.stderr)
  return { host, container, network, ip: ep.IPAddress ?? '', pinnedIp: ep.IPAMConfig?.IPv4Address || undefined, etcdLog }
}

const KUBELET_LOG = `{ journalctl -u kubelet -n 500 --no-pager 2>/dev/null; docker logs --tail 300 kubelet 2>&1; } | grep -F 'is already in use by' | tail -n 20`

export async function collectEvidence(inv: Inventory, conns: Connections, out?: Output): Promise<DoctorEvidence> {
  const run = await runChecks(inv, conns, ['preflight', 'nodes', 'etcd', 'kubernetes'], out)
  const unreachable = run.hosts.filter((h) => h.error).map((h) => inv.hosts[h.host])
  const views = await Promise.all(unreachable.map((h) => (nodeContainerOf(h) ? localContainerView(h.name, nodeContainerOf(h)!, inv.etcd.container) : undefined)))
  const reached = run.hosts.filter((h) => !h.error).map((h) => h.host)
  const logs = await conns.map(reached, async (t, h) => {
    const log = (await t.exec(KUBELET_LOG, { nothrow: true, timeoutMs: 20_000 })).stdout
    // The containers a conflict names (the holder, the pod's exited ones): their inspect fields are evidence too.
    const facts = run.hosts.find((x) => x.host === h.name)?.facts
    const ps = parsePsRows((facts?.containers ?? []).map((c) => `${c.id}\t${c.name}\t${c.state}\t${c.status}`).join('\n'))
    const ids = [...new Set(findStaleContainers(ps, log).flatMap((f) => [...(f.holder ? [f.holder.id] : []), ...f.stale.map((r) => r.id)]))]
    // etcd's own complaints about its peers (a moved member's old address, seed 000's dial errors).
    // Read through the host's runtime (docker, or containerd's pod log on kind), from the container check found.
    const etcd = h.roles.includes('etcd') ? run.hosts.find((x) => x.host === h.name)?.inspects.etcd : undefined
    const etcdLog = etcd ? peerTrouble(await runtimeFor(inv, h.name).logs(t, etcd, 300)) : []
    let inspects: StaleInspect[] = []
    if (ids.length) {
      const r = await t.$`docker container inspect ${ids}`.nothrow()
      // A container removed since `docker ps -a` makes docker print the others and exit 1: keep what it printed.
      if (r.stdout.trim().startsWith('[')) inspects = staleInspectFields(JSON.parse(r.stdout))
    }
    return { log, inspects, etcdLog }
  })
  return {
    run,
    containers: views.filter((v): v is NodeContainerView => !!v),
    kubeletLogs: Object.fromEntries(logs.filter((l) => l.value?.log).map((l) => [l.host, l.value!.log])),
    staleInspects: Object.fromEntries(logs.filter((l) => l.value?.inspects.length).map((l) => [l.host, l.value!.inspects])),
    etcdLogs: Object.fromEntries(logs.filter((l) => l.value?.etcdLog.length).map((l) => [l.host, l.value!.etcdLog])),
  }
}
