// Failback (issue 11): after a failover to site B, the lost site's hosts come home. Fence what is not fenced yet
// (their old members must never run: cut off, they hold a majority of the old membership), then add each etcd
// host back one at a time as a learner with an empty data dir (old data quarantined, never merged), bring the
// fenced apiservers back with --etcd-servers naming every member, put the site's Nodes back in service, lift the
// fence markers, and prove the cluster has its original shape. A fenced host is recognised by its kind: on RKE its
// etcd and apiserver containers were renamed NAME-fenced-<time>; on kubeadm their static pods were stopped
// (manifests moved to /etc/kubernetes/dr/stopped/) — either way the host comes back as a new member with its old
// data quarantined, and its apiserver's manifest (or container) is brought back with the new --etcd-servers. Every check reads the cluster: a second run has
// nothing to do, and a run killed anywhere converges.
import { DrError } from '../../src/core/error.ts'
import { memberEndpoint } from '../../src/etcd/client.ts'
import { hexId } from '../../src/etcd/learner.ts'
import { joinState, readMembership, selfView, type JoinState, type Membership } from '../../src/etcd/membership.ts'
import { hostsInSite, hostsWithRole } from '../../src/inventory/types.ts'
import type { Runbook, Step, StepContext } from '../../src/runbook/types.ts'
import { fence } from '../fence.ts'
import { apiserverSteps } from '../steps/kube.ts'
import { componentOf } from '../steps/containers.ts'
import { memberAddSteps } from '../member/add-steps.ts'
import { patient, verifyEtcdServers, verifyMembers } from '../member/cluster.ts'
import { etcdServersHold, etcdServersOf } from '../steps/kube.ts'
import { adaptStep, apiserverReturnStep, liftFenceStep, nodesReturnStep } from './steps.ts'
import { keepsKubeadmConfig, kubeadmConfigStep } from '../steps/kubeadm-config.ts'

type FenceFacts = Awaited<ReturnType<typeof fence.assess>>

export interface FailbackFacts {
  site: string
  membership: Membership
  /** Every inventory etcd host and where it stands now. */
  etcdStates: Record<string, JoinState>
  /** Hosts of the site to fence first (reachable, not yet home). */
  toFence: string[]
  fence?: FenceFacts
  /** etcd hosts to add, in inventory order, one at a time. */
  toAdd: string[]
  siteHosts: string[]
  siteControlplanes: string[]
  controlplanes: string[]
  /** --etcd-servers every apiserver ends with: every inventory etcd host. */
  urls: string[]
  /** An apiserver outside the site to talk to Kubernetes through. */
  via: string
  /** kubeadm: keep the kubeadm-config ConfigMap's ClusterStatus in step with the members. */
  kubeadmConfig?: boolean
}


export const failback: Runbook<FailbackFacts> = {
  name: 'failback',
  title: 'site failback',

  async assess(ctx) {
    const site = String(ctx.options.site)
    const inv = ctx.inv
    if (!inv.sites[site]) {
      throw new DrError({ code: 'failback.unknown-site', message: `site ${site} is not in the inventory (sites: ${Object.keys(inv.sites).join(', ')})`, exit: 'usage', hint: 'name the site that was lost and has come back: dr failback --site <site>' })
    }
    const etcdHosts = hostsWithRole(inv, 'etcd').map((h) => h.name)
    const siteHosts = hostsInSite(inv, site).map((h) => h.name)
    const controlplanes = hostsWithRole(inv, 'controlplane').map((h) => h.name)
    const siteControlplanes = controlplanes.filter((h) => siteHosts.includes(h))
    // The survivors first: they are the ones with quorum.
    const candidates = [...etcdHosts.filter((h) => !siteHosts.includes(h)), ...etcdHosts.filter((h) => siteHosts.includes(h))]
    ctx.out.progress(`reading the membership and ${etcdHosts.length} etcd hosts …`)
    const membership = await readMembership(ctx.conns, inv, candidates)
    const selves = await Promise.all(etcdHosts.map((h) => selfView(ctx.conns, inv, h)))
    const etcdStates = Object.fromEntries(etcdHosts.map((h, i) => [h, joinState(membership, inv.hosts[h].address, selves[i])])) as Record<string, JoinState>

    const urls = etcdHosts.map((h) => memberEndpoint(inv, h))
    const down: string[] = []
    const toFence: string[] = []
    for (const h of siteHosts.filter((x) => inv.hosts[x].roles.some((r) => r === 'etcd' || r === 'controlplane'))) {
      // Not reaching a host is what this loop finds out (failback refuses below), not a failure of the read.
      const t = await ctx.conns.get(h).catch(() => undefined)
      if (!t) {
        down.push(h)
        continue
      }
      const home = inv.hosts[h].roles.includes('etcd') ? ['learner', 'voter'].includes(etcdStates[h]) : await apiserverHome(inv, t, urls)
      if (!home) toFence.push(h)
    }
    if (down.length) {
      throw new DrError({
        code: 'failback.site-not-back',
        message: `not every host of site ${site} is reachable: ${down.join(', ')}`,
        exit: 'refused',
        hint: 'failback brings the whole site home; wait until its hosts answer over SSH (dr status), then run again',
      })
    }
    const fenceFacts = toFence.length ? await fence.assess({ ...ctx, options: { site } }) : undefined
    const toAdd = etcdHosts.filter((h) => etcdStates[h] !== 'voter')
    const via = controlplanes.find((h) => !siteHosts.includes(h)) ?? controlplanes[0]
    return { site, membership, etcdStates, toFence, fence: fenceFacts, toAdd, siteHosts, siteControlplanes, controlplanes, urls, via, kubeadmConfig: keepsKubeadmConfig(inv) }
  },

  describe(f) {
    return [
      `returning site: ${f.site} (${f.siteHosts.join(', ')})`,
      `members now (through ${f.membership.via}): ${f.membership.members.map((m) => `${m.name || hexId(m.ID)}${m.isLearner ? ' (learner)' : ''}`).join(', ')}`,
      ...Object.entries(f.etcdStates).map(([h, s]) => `  ${h.padEnd(10)} ${s}`),
      f.toFence.length ? `fence first (not home yet): ${f.toFence.join(', ')}` : 'nothing to fence',
      f.toAdd.length ? `add as members, one at a time (learner → caught up → promoted): ${f.toAdd.join(', ')}` : 'every etcd host is a member',
      `every kube-apiserver ends with --etcd-servers=${f.urls.join(',')}`,
    ]
  },

  steps(f) {
    const steps: Step<FailbackFacts>[] = []
    if (f.fence) {
      const fenceSteps = fence.steps(f.fence, { site: f.site }).filter((s) => !s.host || f.toFence.includes(s.host))
      steps.push(...fenceSteps.map((s) => adaptStep<FailbackFacts, FenceFacts>(s, (x) => x.fence!)))
    }
    for (const h of f.toAdd) steps.push(...memberAddSteps<FailbackFacts>(h))
    steps.push(...f.siteControlplanes.map((h) => apiserverReturnStep<FailbackFacts>(h)))
    steps.push(...apiserverSteps<FailbackFacts>(f.controlplanes, () => f.urls).map((s) => patient(s)))
    if (f.via) steps.push(nodesReturnStep<FailbackFacts>(f.site, f.siteHosts, f.via))
    if (f.via && f.kubeadmConfig) steps.push(kubeadmConfigStep<FailbackFacts>(f.via, Object.keys(f.etcdStates)))
    steps.push(...f.siteHosts.filter((h) => f.toFence.includes(h) || f.toAdd.includes(h) || f.siteControlplanes.includes(h)).map((h) => liftFenceStep<FailbackFacts>(h)))
    return steps
  },

  async finalVerify(ctx: StepContext<FailbackFacts>) {
    const f = ctx.facts
    const etcdHosts = hostsWithRole(ctx.inv, 'etcd').map((h) => h.name)
    return [...(await verifyMembers(ctx, etcdHosts)), ...(await verifyEtcdServers(ctx, f.controlplanes, f.urls))]
  },
}

/** A controlplane-only host is home when its apiserver (container or static pod) runs with the full --etcd-servers list. */
async function apiserverHome(inv: import('../../src/inventory/types.ts').Inventory, t: import('../../src/transport/types.ts').Transport, urls: string[]): Promise<boolean> {
  const s = await componentOf(inv, t, 'kube-apiserver').state()
  return !!s?.running && etcdServersHold(etcdServersOf(s.argv), urls, memberEndpoint(inv, t.host))
}
