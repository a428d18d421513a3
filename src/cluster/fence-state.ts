// Is a lost site back, and is it fenced? After a failover to site B, site A's hosts must not run their old
// etcd members: cut off from B, A's two members still hold a majority of the old membership (DESIGN.md §3).
import fs from 'node:fs'
import path from 'node:path'
import type { Inventory } from '../inventory/types.ts'
import { hostsInSite } from '../inventory/types.ts'
import type { TransportSource } from '../etcd/client.ts'
import type { FailoverDecision } from './decision.ts'
import { DrError } from '../core/error.ts'
import { hasFenceAgent, powerStatus, type PowerState } from './power.ts'
import { componentOf } from '../component/index.ts'
import type { ComponentState } from '../component/types.ts'

/** Where a fence is recorded on each fenced host. */
export const FENCE_MARKER = '/var/lib/dr/fence.json'

export interface HostFence {
  host: string
  /** SSH answered and commands ran. */
  reachable: boolean
  fenced: boolean
  etcdRunning?: boolean
  /** Not reachable: nothing answers on TCP (refused, no route, timeout). The only failure that means "down". */
  unreachable?: boolean
  /** Any other failure (authentication, a changed host key, a bug): the host is up, and its state is unknown. */
  error?: DrError
  /** What its out-of-band fence agent says, when it has one and SSH does not reach it. */
  power?: PowerState
}

/** The SSH failures that mean nothing answers on TCP (src/transport/ssh-errors.ts); nothing else is "unreachable". */
export const UNREACHABLE_CODES: readonly string[] = ['ssh.connection-refused', 'ssh.host-unreachable', 'ssh.timeout']

export const isUnreachable = (e: unknown) => e instanceof DrError && UNREACHABLE_CODES.includes(e.code)

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

/**
 * Is the host fenced? Only a host that does not answer on TCP is "unreachable" (then its fence agent, if any, says
 * whether it is off); any other failure is kept as `error` with its cause, never taken for "down".
 */
export async function hostFence(conns: TransportSource, inv: Inventory, host: string): Promise<HostFence> {
  try {
    const t = await conns.get(host)
    const marker = await t.$.with({ timeoutMs: 10_000 })`test -f ${FENCE_MARKER}`.nothrow()
    const running = etcdProcessRunning(await componentOf(inv, t, 'etcd').state())
    return { host, reachable: true, fenced: marker.ok && !running, etcdRunning: running }
  } catch (e) {
    if (!isUnreachable(e)) {
      return { host, reachable: false, fenced: false, error: asDrError(e, host) }
    }
    const h = inv.hosts[host]
    if (!h || !hasFenceAgent(h)) return { host, reachable: false, fenced: false, unreachable: true, error: e as DrError }
    // Powered off and confirmed by its agent: fenced, whether or not SSH answers.
    const power = await powerStatus(h)
    return { host, reachable: false, fenced: power === 'off', unreachable: true, power, error: e as DrError }
  }
}

/**
 * A process of the host's etcd runs: the RKE container named in the inventory (a fenced one is renamed, so it is no
 * longer "the" container), or any container of the kubeadm etcd pod (even one the kubelet is still stopping).
 */
export const etcdProcessRunning = (s: ComponentState | undefined) => !!s && (s.running || !!s.container?.State?.Running)

const asDrError = (e: unknown, host: string) =>
  e instanceof DrError ? e : new DrError({ code: 'bug', message: `checking ${host} failed: ${(e as Error)?.message ?? e} (this is a bug in dr)`, host, cause: e, exit: 'bug' })

/** One line per host that is not fenced and why: for messages. */
export const whyNotFenced = (h: HostFence) =>
  h.error && !h.unreachable
    ? `${h.host}: ${h.error.code}: ${h.error.message}`
    : h.unreachable
      ? `${h.host}: not reachable (${h.error?.code ?? 'no answer'})${h.power ? `, power ${h.power}` : ', and no fence agent (fence: in the inventory) to power it off'}`
      : `${h.host}: ${h.etcdRunning ? 'etcd running' : 'not fenced'}`

/**
 * For each site a completed failover (still in effect: `inEffect`) left behind: which of its hosts are back, and
 * fenced or not.
 */
export async function fenceState(conns: TransportSource, inv: Inventory, inEffect: (d: FailoverDecision) => boolean): Promise<FenceState[]> {
  const out: FenceState[] = []
  for (const d of failovers(inv).filter(inEffect)) {
    for (const site of Object.keys(inv.sites).filter((s) => s !== d.site)) {
      const etcdHosts = hostsInSite(inv, site).filter((h) => h.roles.includes('etcd') || h.roles.includes('controlplane'))
      const hosts = await Promise.all(etcdHosts.map((h) => hostFence(conns, inv, h.name).catch((e: unknown): HostFence => ({ host: h.name, reachable: false, fenced: false, error: asDrError(e, h.name) }))))
      const back = hosts.filter((h) => h.reachable)
      const unfenced = back.filter((h) => !h.fenced || h.etcdRunning)
      const unknown = hosts.filter((h) => h.error && !h.unreachable)
      const off = hosts.filter((h) => h.power === 'off')
      const summary = unknown.length
        ? `UNKNOWN: ${unknown.map(whyNotFenced).join('; ')} — the host answers but dr cannot check it; fix that, then: dr fence --site ${site}`
        : back.length === 0
          ? off.length === hosts.length
            ? `lost (failed over to site ${d.site}); every host powered off by its fence agent (${off.map((h) => h.host).join(', ')})`
            : `lost (failed over to site ${d.site}); none of its hosts is reachable — fence it as soon as it returns: dr fence --site ${site}`
          : unfenced.length
            ? `RETURNED AND NOT FENCED (${unfenced.map((h) => `${h.host}${h.etcdRunning ? ': etcd running' : ''}`).join(', ')}) — run: dr fence --site ${site}`
            : `returned and fenced (${back.map((h) => h.host).join(', ')}); etcd and apiserver stay down`
      out.push({ site, failedOverTo: d.site, hosts, summary })
    }
  }
  return out
}
