// Fence a lost site that comes back: its old etcd members must never run again, or (cut off from the survivors)
// they still hold a majority of the old membership and serve stale data — a second cluster, measured on the lab.
// Per reachable host: restart policy off, etcd and kube-apiserver stopped and renamed *-fenced-<time>, the etcd
// data dir moved to a quarantine name, and a marker recording the fence. Nothing is deleted. A host SSH cannot
// reach (nothing answers on TCP) is powered off by its fence agent when the inventory has one; any other failure
// (authentication, a changed host key) is never taken for "down": the run fails and names the host.
import { DrError } from '../src/core/error.ts'
import { FENCE_MARKER, hostFence, whyNotFenced, type HostFence } from '../src/cluster/fence-state.ts'
import { hasFenceAgent } from '../src/cluster/power.ts'
import { hostsInSite, type Inventory } from '../src/inventory/types.ts'
import type { Runbook, Step } from '../src/runbook/types.ts'
import type { Transport } from '../src/transport/types.ts'
import { tryInspect } from './steps/containers.ts'
import { powerOffHost } from './steps/power-fence.ts'

export interface FenceFacts {
  site: string
  tag: string
  hosts: HostFence[]
}

const names = (inv: { etcd: { container: string }; kubernetes: { apiserverContainer: string } }) => [inv.etcd.container, inv.kubernetes.apiserverContainer]

async function fenceWork(t: Transport, inv: Parameters<typeof names>[0] & { etcd: { dataDir: string } }): Promise<string[]> {
  const todo: string[] = []
  for (const name of names(inv)) {
    const c = await tryInspect(t, name)
    if (c) todo.push(`stop ${name}${c.State?.Running ? ' (running)' : ''}, restart policy off, rename it ${name}-fenced-<time>`)
  }
  // An empty data dir (a host's boot may create it) holds nothing that can form a quorum.
  if ((await t.$`test -d ${`${inv.etcd.dataDir}/member`}`.nothrow()).ok) todo.push(`move ${inv.etcd.dataDir} to ${inv.etcd.dataDir}.dr-fenced-<time>`)
  if (!(await t.$`test -f ${FENCE_MARKER}`.nothrow()).ok) todo.push(`record the fence in ${FENCE_MARKER}`)
  return todo
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
      for (const name of names(ctx.inv)) {
        if (!(await tryInspect(t, name))) continue
        await t.$`docker update --restart=no ${name} >/dev/null && docker stop -t 2 ${name} >/dev/null && docker rename ${name} ${`${name}-fenced-${tag}`}`
      }
      const dir = ctx.inv.etcd.dataDir
      await t.$`if [ -d ${`${dir}/member`} ]; then mv ${dir} ${`${dir}.dr-fenced-${tag}`}; fi`
      const marker = JSON.stringify({ site: ctx.facts.site, fencedAt: new Date().toISOString(), tag, by: 'dr fence' })
      await t.$`mkdir -p /var/lib/dr && printf '%s\n' ${marker} > ${FENCE_MARKER}`
    },
    async verify(ctx) {
      const t = await ctx.conns.get(host)
      const left = await fenceWork(t, ctx.inv)
      if (left.length) throw new DrError({ code: 'fence.unverified', message: `${host} is not fenced: ${left.join('; ')}`, host, exit: 'unverified' })
      return `etcd and kube-apiserver stopped and renamed; data quarantined`
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
