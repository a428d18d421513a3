// Is a lost site back, and is it fenced? After a failover to site B, site A's hosts must not run their old
// etcd members: cut off from B, A's two members still hold a majority of the old membership (DESIGN.md §3).
import fs from 'node:fs'
import path from 'node:path'
import type { Inventory } from '../inventory/types.ts'
import { hostsInSite } from '../inventory/types.ts'
import type { TransportSource } from '../etcd/client.ts'
import type { FailoverDecision } from './decision.ts'

/** Where a fence is recorded on each fenced host. */
export const FENCE_MARKER = '/var/lib/dr/fence.json'

export interface HostFence {
  host: string
  reachable: boolean
  fenced: boolean
  etcdRunning?: boolean
}

export interface FenceState {
  site: string
  failedOverTo: string
  hosts: HostFence[]
  summary: string
}

function failovers(inv: Inventory): FailoverDecision[] {
  const dir = path.join(inv.stateDir, 'failover')
  if (!fs.existsSync(dir)) return []
  return fs
    .readdirSync(dir)
    .filter((f) => /^site-[^.]+\.json$/.test(f)) // archived older decisions are site-X.<tag>.json
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as FailoverDecision)
    .filter((d) => d.completedAt)
}

export async function hostFence(conns: TransportSource, inv: Inventory, host: string): Promise<HostFence> {
  try {
    const t = await conns.get(host)
    const marker = await t.$.with({ timeoutMs: 10_000 })`test -f ${FENCE_MARKER}`.nothrow()
    const running = await t.$.with({ timeoutMs: 10_000 })`docker inspect -f '{{.State.Running}}' ${inv.etcd.container}`.nothrow()
    return { host, reachable: true, fenced: marker.ok, etcdRunning: running.stdout.trim() === 'true' }
  } catch {
    return { host, reachable: false, fenced: false }
  }
}

/**
 * For each site a completed failover (still in effect: `inEffect`) left behind: which of its hosts are back, and
 * fenced or not.
 */
export async function fenceState(conns: TransportSource, inv: Inventory, inEffect: (d: FailoverDecision) => boolean): Promise<FenceState[]> {
  const out: FenceState[] = []
  for (const d of failovers(inv).filter(inEffect)) {
    for (const site of Object.keys(inv.sites).filter((s) => s !== d.site)) {
      const etcdHosts = hostsInSite(inv, site).filter((h) => h.roles.includes('etcd') || h.roles.includes('controlplane'))
      const hosts = await Promise.all(etcdHosts.map((h) => hostFence(conns, inv, h.name)))
      const back = hosts.filter((h) => h.reachable)
      const unfenced = back.filter((h) => !h.fenced || h.etcdRunning)
      const summary =
        back.length === 0
          ? `lost (failed over to site ${d.site}); none of its hosts is reachable — fence it as soon as it returns: dr fence --site ${site}`
          : unfenced.length
            ? `RETURNED AND NOT FENCED (${unfenced.map((h) => `${h.host}${h.etcdRunning ? ': etcd running' : ''}`).join(', ')}) — run: dr fence --site ${site}`
            : `returned and fenced (${back.map((h) => h.host).join(', ')}); etcd and apiserver stay down`
      out.push({ site, failedOverTo: d.site, hosts, summary })
    }
  }
  return out
}
