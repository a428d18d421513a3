// `dr member add|remove|replace` as runbooks: facts gathered read-only (and refusals) in assess, then the step
// factories of add-steps.ts and remove-steps.ts, the apiservers repointed, and a whole-cluster verification.
import { DrError } from '../../src/core/error.ts'
import { hexId } from '../../src/etcd/learner.ts'
import { removeVerdict } from '../../src/etcd/learner.ts'
import { selfView, type JoinState, type Membership } from '../../src/etcd/membership.ts'
import { hostsWithRole, type Inventory } from '../../src/inventory/types.ts'
import type { Runbook, Step } from '../../src/runbook/types.ts'
import { apiserverSteps } from '../steps/kube.ts'
import { memberAddSteps } from './add-steps.ts'
import { apiserverHosts, patient, verifyEtcdServers, verifyMembers } from './cluster.ts'
import { moveNodeStep } from './node.ts'
import { memberHealth, memberRemoveSteps, refuseRemoval } from './remove-steps.ts'
import { hostJoin, votingClientUrls } from './view.ts'
import { keepsKubeadmConfig, kubeadmConfigStep } from '../steps/kubeadm-config.ts'

export interface MemberFacts {
  host: string
  /** member replace: the host that takes the member's place. */
  newHost?: string
  membership: Membership
  state: JoinState
  /** The removed host answers over SSH (its etcd can be stopped and kept aside). */
  reachable: boolean
  apiservers: string[]
  skippedApiservers: string[]
  /** --etcd-servers every apiserver ends with. */
  urls: string[]
  /** Hosts to reach the cluster through (member replace: every etcd host but the old one). */
  via?: string[]
  /** kubeadm: keep the kubeadm-config ConfigMap's ClusterStatus in step with the members (reached through these etcd hosts). */
  kubeadmConfig?: string[]
}

/** The etcd hosts to read the members through for kubeadm's ClusterStatus; undefined where there is none to keep. */
const kubeadmConfigVia = (inv: Inventory, without: string[] = []) =>
  keepsKubeadmConfig(inv) ? hostsWithRole(inv, 'etcd').map((h) => h.name).filter((h) => !without.includes(h)) : undefined

function withKubeadmConfig(steps: Step<MemberFacts>[], f: MemberFacts): Step<MemberFacts>[] {
  return f.kubeadmConfig && f.apiservers[0] ? [...steps, kubeadmConfigStep<MemberFacts>(f.apiservers[0], f.kubeadmConfig)] : steps
}

function requireEtcdHost(inv: Inventory, host: string, what: string) {
  const h = inv.hosts[host]
  if (!h) {
    throw new DrError({ code: 'member.unknown-host', message: `${host} is not in the inventory (${what})`, exit: 'usage', hint: `hosts: ${Object.keys(inv.hosts).join(', ')}` })
  }
  if (!h.roles.includes('etcd')) {
    throw new DrError({ code: 'member.not-etcd-host', message: `${host} does not have the etcd role in the inventory`, host, exit: 'usage', hint: `add etcd to hosts.${host}.roles in ${inv.file} first` })
  }
}

function describeMembers(m: Membership): string[] {
  return [
    `members (through ${m.via}, applied index ${m.appliedIndex}):`,
    ...m.members.map((x) => `  ${hexId(x.ID).padEnd(17)} ${(x.name || '(not started)').padEnd(16)} ${x.isLearner ? 'learner' : 'voter  '} ${x.peerURLs.join(',')}`),
  ]
}

const reachable = async (ctx: { conns: { get(h: string): Promise<unknown> } }, host: string) =>
  ctx.conns.get(host).then(
    () => true,
    // Not reaching the host is a fact the plan reports (a dead host being replaced), not a failure.
    () => false,
  )

export const memberAdd: Runbook<MemberFacts> = {
  name: 'member-add',
  title: 'add an etcd member',
  async assess(ctx) {
    const host = String(ctx.options.host)
    requireEtcdHost(ctx.inv, host, 'dr member add')
    const j = await hostJoin(ctx, host)
    const { hosts, skipped } = await apiserverHosts(ctx)
    return {
      host,
      membership: j.m,
      state: j.state,
      reachable: true,
      apiservers: hosts,
      skippedApiservers: skipped,
      urls: votingClientUrls(ctx.inv, j.m.members, [host]),
      kubeadmConfig: kubeadmConfigVia(ctx.inv),
    }
  },
  describe(f) {
    return [
      ...describeMembers(f.membership),
      `${f.host}: ${f.state}`,
      'joins as a learner with an empty data dir (old data quarantined, never merged), promoted once caught up',
      `then every kube-apiserver: --etcd-servers=${f.urls.join(',')}`,
      ...(f.skippedApiservers.length ? [`apiservers skipped: ${f.skippedApiservers.join(', ')}`] : []),
    ]
  },
  steps(f) {
    return withKubeadmConfig([...memberAddSteps<MemberFacts>(f.host), ...apiserverSteps<MemberFacts>(f.apiservers, () => f.urls).map((s) => patient(s))], f)
  },
  async finalVerify(ctx) {
    const f = ctx.facts
    return [...(await verifyMembers(ctx, [f.host])), ...(await verifyEtcdServers(ctx, f.apiservers, f.urls))]
  },
}

export const memberRemove: Runbook<MemberFacts> = {
  name: 'member-remove',
  title: 'remove an etcd member',
  async assess(ctx) {
    const host = String(ctx.options.host)
    if (!ctx.inv.hosts[host]) requireEtcdHost(ctx.inv, host, 'dr member remove')
    const j = await hostJoin(ctx, host)
    if (j.listed) {
      const v = removeVerdict(await memberHealth(ctx, j.m), j.listed.ID)
      if (!v.ok) refuseRemoval(host, v.reason)
    }
    const up = await reachable(ctx, host)
    const { hosts, skipped } = await apiserverHosts(ctx)
    return { host, membership: j.m, state: j.state, reachable: up, apiservers: hosts, skippedApiservers: skipped, urls: votingClientUrls(ctx.inv, j.m.members, [], [host]), kubeadmConfig: kubeadmConfigVia(ctx.inv, [host]) }
  },
  describe(f) {
    return [
      ...describeMembers(f.membership),
      `${f.host}: ${f.state}${f.reachable ? '' : ' (host not reachable: its etcd cannot be stopped now; a removed member exits when it comes back)'}`,
      `first every kube-apiserver stops naming it: --etcd-servers=${f.urls.join(',')}`,
      ...(f.skippedApiservers.length ? [`apiservers skipped: ${f.skippedApiservers.join(', ')}`] : []),
    ]
  },
  steps(f) {
    return withKubeadmConfig([...apiserverSteps<MemberFacts>(f.apiservers, () => f.urls).map((s) => patient(s)), ...memberRemoveSteps<MemberFacts>(f.host, { retire: f.reachable })], f)
  },
  async finalVerify(ctx) {
    const f = ctx.facts
    return [...(await verifyMembers(ctx, [], [f.host])), ...(await verifyEtcdServers(ctx, f.apiservers, f.urls))]
  },
}

export const memberReplace: Runbook<MemberFacts> = {
  name: 'member-replace',
  title: 'replace an etcd member (a failed control-plane node)',
  async assess(ctx) {
    const host = String(ctx.options.host)
    const newHost = String(ctx.options.with)
    if (!ctx.inv.hosts[host]) requireEtcdHost(ctx.inv, host, 'dr member replace OLD')
    requireEtcdHost(ctx.inv, newHost, 'dr member replace --with NEW')
    if (host === newHost) throw new DrError({ code: 'member.same-host', message: 'OLD and --with name the same host', exit: 'usage', hint: 'to re-add a host, use dr member remove then dr member add' })
    const j = await hostJoin(ctx, host)
    if (j.listed) {
      const v = removeVerdict(await memberHealth(ctx, j.m), j.listed.ID)
      if (!v.ok) refuseRemoval(host, v.reason)
    }
    const up = await reachable(ctx, host)
    const { hosts, skipped } = await apiserverHosts(ctx, [host])
    const urls = votingClientUrls(ctx.inv, j.m.members, [newHost], [host])
    const s = await selfView(ctx.conns, ctx.inv, host)
    const via = hostsWithRole(ctx.inv, 'etcd').map((h) => h.name).filter((h) => h !== host && h !== newHost)
    return { host, newHost, membership: j.m, state: j.state, reachable: up && s.answers, apiservers: hosts, skippedApiservers: skipped, urls, via, kubeadmConfig: kubeadmConfigVia(ctx.inv, [host]) }
  },
  describe(f) {
    return [
      ...describeMembers(f.membership),
      `${f.host} (${f.state}${f.reachable ? '' : ', not reachable'}) leaves; ${f.newHost} joins as a learner and is promoted once caught up`,
      `then every kube-apiserver: --etcd-servers=${f.urls.join(',')}; the Node ${f.host} is deleted so its pods reschedule`,
      ...(f.reachable ? [] : [`${f.host} cannot be reached: when it comes back its etcd finds itself removed and exits; wipe or fence it (dr fence)`]),
      ...(f.skippedApiservers.length ? [`apiservers skipped: ${f.skippedApiservers.join(', ')}`] : []),
    ]
  },
  steps(f) {
    const steps: Step<MemberFacts>[] = [
      ...memberRemoveSteps<MemberFacts>(f.host, { retire: f.reachable }),
      ...memberAddSteps<MemberFacts>(f.newHost!, { via: f.via }),
      ...apiserverSteps<MemberFacts>(f.apiservers, () => f.urls).map((s) => patient(s)),
    ]
    const via = f.apiservers[0]
    if (via) steps.push(moveNodeStep<MemberFacts>(f.host, f.newHost!, via))
    return withKubeadmConfig(steps, f)
  },
  async finalVerify(ctx) {
    const f = ctx.facts
    return [...(await verifyMembers(ctx, [f.newHost!], [f.host])), ...(await verifyEtcdServers(ctx, f.apiservers, f.urls))]
  },
}
