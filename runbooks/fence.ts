// Fence a lost site that comes back: its old etcd members must never run again, or (cut off from the survivors)
// they still hold a majority of the old membership and serve stale data — a second cluster, measured on the lab.
// Per reachable host: etcd and kube-apiserver stopped for good — RKE containers: restart policy off, stopped and
// renamed *-fenced-<time>; kubeadm static pods: manifests moved to /etc/kubernetes/dr/stopped/ (the kubelet stops
// them and will not start them after a reboot) — the etcd data dir moved to a quarantine name, and a marker
// recording the fence. Nothing is deleted. A host SSH cannot
// reach (nothing answers on TCP) is powered off by its fence agent when the inventory has one; any other failure
// (authentication, a changed host key) is never taken for "down": the run fails and names the host.
import { DrError } from '../src/core/error.ts'
import { FENCE_MARKER, hostFence, whyNotFenced, type HostFence } from '../src/cluster/fence-state.ts'
import { hasFenceAgent } from '../src/cluster/power.ts'
import { hostsInSite, type Inventory } from '../src/inventory/types.ts'
import { DR_MANIFEST_DIR } from '../src/component/index.ts'
import type { Runbook, Step } from '../src/runbook/types.ts'
import type { Transport } from '../src/transport/types.ts'
import { componentOf, type Component, type ComponentName } from './steps/containers.ts'
import { powerOffHost } from './steps/power-fence.ts'

export interface FenceFacts {
  site: string
  tag: string
  hosts: HostFence[]
}

const COMPONENTS: ComponentName[] = ['etcd', 'kube-apiserver']

/** What fencing one component still needs: undefined when it is fenced (or absent). */
async function componentWork(c: Component): Promise<string | undefined> {
  const s = await c.state()
  if (!s) return undefined
  if (c.kind === 'container') return `stop ${s.where}${s.running ? ' (running)' : ''}, restart policy off, rename it ${s.where}-fenced-<time>`
  // A static pod: stopped = its manifest moved out; a container of it may still run until the kubelet stops it.
  if (s.stopped && !s.container?.State?.Running) return undefined
  return s.stopped ? `wait for the ${c.name} pod's container to stop (manifest already in ${s.where})` : `move ${s.where} out to ${DR_MANIFEST_DIR}/stopped/ and wait for the kubelet to stop the ${c.name} pod (it stays stopped across reboots)`
}

async function fenceWork(t: Transport, inv: Inventory): Promise<string[]> {
  const todo: string[] = []
  for (const name of COMPONENTS) {
    const w = await componentWork(componentOf(inv, t, name))
    if (w) todo.push(w)
  }
  // An empty data dir (a host's boot may create it) holds nothing that can form a quorum.
  if ((await t.$`test -d ${`${inv.etcd.dataDir}/member`}`.nothrow()).ok) todo.push(`move ${inv.etcd.dataDir} to ${inv.etcd.dataDir}.dr-fenced-<time>`)
  if (!(await t.$`test -f ${FENCE_MARKER}`.nothrow()).ok) todo.push(`record the fence in ${FENCE_MARKER}`)
  return todo
}

/** Stop one component for good (see the header); nothing when it is fenced already. */
async function fenceComponent(t: Transport, c: Component, tag: string): Promise<void> {
  if (!(await componentWork(c))) return
  if (c.kind === 'container') {
    const name = (await c.state())!.where
    await c.stop({ timeoutMs: 2000 })
    await t.$`docker rename ${name} ${`${name}-fenced-${tag}`}`
  } else {
    await c.stop({ timeoutMs: 90_000 })
  }
}

function fenceHost(host: string): Step<FenceFacts> {
  return {
    id: `fence-${host}`,
    title: `Fence ${host}: stop and disable its etcd and kube-apiserver, quarantine the etcd data`,
    host,
    destructive: true,
    async check(ctx) {
      const t = await ctx.conns.get(host)
      return (await fenceWork(t, ctx.inv)).map((summary) => ({ host, summary, destructive: true }))
    },
    async apply(ctx) {
      const t = await ctx.conns.get(host)
      const tag = ctx.facts.tag
      for (const name of COMPONENTS) await fenceComponent(t, componentOf(ctx.inv, t, name), tag)
      const dir = ctx.inv.etcd.dataDir
      await t.$`if [ -d ${`${dir}/member`} ]; then mv ${dir} ${`${dir}.dr-fenced-${tag}`}; fi`
      const marker = JSON.stringify({ site: ctx.facts.site, fencedAt: new Date().toISOString(), tag, by: 'dr fence' })
      await t.$`mkdir -p /var/lib/dr && printf '%s\n' ${marker} > ${FENCE_MARKER}`
    },
    async verify(ctx) {
      const t = await ctx.conns.get(host)
      const left = await fenceWork(t, ctx.inv)
      if (left.length) throw new DrError({ code: 'fence.unverified', message: `${host} is not fenced: ${left.join('; ')}`, host, exit: 'unverified' })
      const how = componentOf(ctx.inv, t, 'etcd').kind === 'container' ? 'stopped and renamed' : `stopped (manifests in ${DR_MANIFEST_DIR}/stopped/)`
      return `etcd and kube-apiserver ${how}; data quarantined`
    },
  }
}

/** Hosts this run cannot fence: not reachable without a fence agent, or failing for any other reason. */
function leftUnfenced(inv: Inventory, hosts: HostFence[]): HostFence[] {
  return hosts.filter((h) => (h.error && !h.unreachable) || (h.unreachable && !hasFenceAgent(inv.hosts[h.host])))
}

export const fence: Runbook<FenceFacts> = {
  name: 'fence',
  title: 'fence a lost site',
  async assess(ctx) {
    const site = String(ctx.options.site)
    if (!ctx.inv.sites[site]) {
      throw new DrError({ code: 'fence.unknown-site', message: `site ${site} is not in the inventory`, exit: 'usage', hint: `sites: ${Object.keys(ctx.inv.sites).join(', ')}` })
    }
    const candidates = hostsInSite(ctx.inv, site).filter((h) => h.roles.includes('etcd') || h.roles.includes('controlplane'))
    const hosts = await Promise.all(candidates.map((h) => hostFence(ctx.conns, ctx.inv, h.name)))
    const tag = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')
    return { site, tag, hosts }
  },
  describe(f) {
    const down = f.hosts.filter((h) => h.unreachable)
    const failing = f.hosts.filter((h) => h.error && !h.unreachable)
    return [
      `site ${f.site}: ${f.hosts.length} etcd/controlplane host(s)`,
      ...down.map((h) => `not reachable by SSH: ${whyNotFenced(h)}`),
      ...failing.map((h) => `CANNOT CHECK ${whyNotFenced(h)} — it answers but dr cannot act on it; the run fails for it`),
      ...(down.length + failing.length === 0 ? ['every host is reachable'] : []),
    ]
  },
  steps(f) {
    return [
      ...f.hosts.filter((h) => h.reachable).map((h) => fenceHost(h.host)),
      ...f.hosts.filter((h) => h.unreachable && h.power !== undefined).map((h) => powerOffHost<FenceFacts>(h.host)),
    ]
  },
  async finalVerify(ctx) {
    const left = leftUnfenced(ctx.inv, ctx.facts.hosts)
    if (left.length) {
      throw new DrError({
        code: 'fence.incomplete',
        message: `site ${ctx.facts.site} is NOT fully fenced: ${left.map(whyNotFenced).join('; ')}. Its etcd may still run and, with the other members of the old membership, form a quorum that serves stale data`,
        host: left[0].host,
        hint: `keep ${left.map((h) => h.host).join(', ')} isolated from the cluster (power or network) until it is fenced; fix the cause above, then run dr fence --site ${ctx.facts.site} again (or add a fence: agent to the inventory so dr can power it off)`,
        exit: left.some((h) => !h.unreachable) ? 'failed' : 'unverified',
      })
    }
    return ctx.facts.hosts.map((h) => (h.reachable ? `${h.host}: fenced (etcd and kube-apiserver stopped and disabled)` : `${h.host}: powered off (confirmed by its fence agent)`))
  },
}
