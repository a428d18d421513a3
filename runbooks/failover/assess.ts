// The failover's assessment: read the decision file (a damaged one stops here, before anything changes), probe
// every member, and judge from the cluster alone whether etcd already runs from the surviving site — then the
// run does nothing destructive, whatever the state directory holds or lacks.
import { DrError } from '../../src/core/error.ts'
import { chooseSurvivor } from '../../src/cluster/quorum.ts'
import { decisionPath, readDecision, type FailoverDecision } from '../../src/cluster/decision.ts'
import { probeCluster, type ClusterStatus } from '../../src/etcd/status.ts'
import { getFlag, hasFlag } from '../../src/container/command-flags.ts'
import { hostsInSite, hostsWithRole, type Inventory } from '../../src/inventory/types.ts'
import type { StepContext } from '../../src/runbook/types.ts'
import type { TransportSource } from '../../src/etcd/client.ts'
import { componentOf } from '../steps/containers.ts'
import { componentKind } from '../../src/component/index.ts'
import { keepsKubeadmConfig } from '../steps/kubeadm-config.ts'
import { FORCED_TUNING } from './etcd-rebuild.ts'
import { inSite, opt, type FailoverFacts, type Method } from './facts.ts'

/** etcd already is what the failover makes, judged from the cluster: the hosts of its members, or why not. */
export async function etcdRunsFromSite(conns: TransportSource, inv: Inventory, status: ClusterStatus, site: string): Promise<{ done: boolean; siteAlone: boolean; why: string[]; hosts: string[]; answering?: string }> {
  const answering = status.members.find((m) => m.site === site && m.quorumRead)
  if (!answering) return { done: false, siteAlone: false, why: [`no member of site ${site} answers a quorum read`], hosts: [] }
  const outside = status.memberList.filter((m) => !inSite(inv, site, m))
  if (status.memberList.length === 0 || outside.length) {
    return { done: false, siteAlone: false, why: [`members outside site ${site} are listed: ${outside.map((m) => m.name || m.id).join(', ') || '(no member list)'}`], hosts: [] }
  }
  // The quorum is the site's own: a failover in progress or done, not a working cluster a failover would throw away.
  const hosts = status.members.filter((m) => m.listed).map((m) => m.host)
  for (const h of hosts.filter((x) => status.members.find((m) => m.host === x)?.reachable)) {
    // The flags it runs with (RKE: the container's; kubeadm: the manifest's, which the kubelet runs on any restart).
    const s = await componentOf(inv, await conns.get(h), 'etcd').state()
    if (s && hasFlag(s.argv, '--force-new-cluster')) return { done: false, siteAlone: true, why: [`etcd on ${h} still runs with --force-new-cluster`], hosts }
  }
  return {
    done: true,
    siteAlone: true,
    why: [`a quorum read succeeds through ${answering.host}`, `every listed member is in site ${site}: ${status.memberList.map((m) => m.name).join(', ')}`, 'no etcd of the site runs with --force-new-cluster'],
    hosts,
    answering: answering.host,
  }
}

const newTag = () => new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')

export async function assess(ctx: Omit<StepContext<FailoverFacts>, 'facts'>): Promise<FailoverFacts> {
  const o = opt(ctx.options)
  const inv = ctx.inv
  if (!inv.sites[o.site]) {
    throw new DrError({
      code: 'failover.unknown-site',
      message: `site ${o.site} is not in the inventory (sites: ${Object.keys(inv.sites).join(', ')})`,
      hint: 'name the site that survived: dr failover --site <site>',
      exit: 'usage',
    })
  }
  // First, before any host is touched: a damaged decision file stops the run here.
  const previous = readDecision(inv.stateDir, o.site)
  const method: Method = o.method ?? previous?.method ?? 'force-new-cluster'
  const failedSites = Object.keys(inv.sites).filter((s) => s !== o.site)
  ctx.out.progress(`assessing ${hostsWithRole(inv, 'etcd').length} etcd members …`)
  const status = await probeCluster(ctx.conns, inv, { timeoutMs: 3000 })
  const done = await etcdRunsFromSite(ctx.conns, inv, status, o.site)

  if (status.verdict.hasQuorum && !done.siteAlone && !o.force) {
    const ok = status.members.filter((m) => m.quorumRead).map((m) => m.host)
    throw new DrError({
      code: 'failover.quorum-present',
      message: `etcd still has quorum (a linearizable read succeeded through ${ok.join(', ')}): a failover would throw away a working cluster`,
      hint: 'if the other site is really gone and this is a stale view, check `dr status`; to force it anyway, add --force',
      exit: 'refused',
    })
  }

  let decision: FailoverDecision
  let reason: string
  let decisionFromCluster = false
  if (done.done && (!previous || (previous.completedAt === undefined ? !done.hosts.includes(previous.survivor) : false))) {
    // Finished from another state directory (or this one was lost): nothing here to resume, nothing to decide.
    decision = { site: o.site, survivor: done.answering!, method, decidedAt: new Date().toISOString(), tag: newTag() }
    reason = `etcd already runs from site ${o.site} alone (read from the cluster)`
    decisionFromCluster = true
  } else if (previous && (!previous.completedAt || done.done)) {
    decision = previous
    reason = previous.completedAt ? `the failover decided at ${previous.decidedAt} is complete` : `resuming the failover decided at ${previous.decidedAt} (${decisionPath(inv.stateDir, o.site)})`
  } else {
    const choice = chooseSurvivor(status.members, o.site)
    if (!choice.survivor) {
      throw new DrError({
        code: 'failover.no-survivor',
        message: choice.reason,
        hint: `check the hosts of site ${o.site} with \`dr status\`; dr needs SSH to them and the etcd container running`,
      })
    }
    reason = choice.reason
    const tag = newTag()
    decision = { site: o.site, survivor: choice.survivor.host, method, decidedAt: new Date().toISOString(), tag }
    if (method === 'restore') decision.token = `dr-${o.site.toLowerCase()}-${tag.toLowerCase()}`
  }
  if (!done.done && decision.method !== method && o.method) {
    throw new DrError({
      code: 'failover.method-changed',
      message: `an unfinished failover with --method ${decision.method} is in progress; it cannot switch to ${method}`,
      hint: `finish it with --method ${decision.method}, or remove ${decisionPath(inv.stateDir, o.site)} after checking the cluster by hand`,
      exit: 'refused',
    })
  }
  const siteControlplanes = hostsInSite(inv, o.site).filter((h) => h.roles.includes('controlplane')).map((h) => h.name)
  const rejoin = hostsInSite(inv, o.site).filter((h) => h.roles.includes('etcd') && h.name !== decision.survivor).map((h) => h.name)
  const t = await ctx.conns.get(decision.survivor)
  const survivorState = await componentOf(inv, t, 'etcd').state()
  const argv = survivorState?.argv ?? []
  // A new decision records the survivor's own values of the flags the forced etcd changes (see FORCED_TUNING).
  if (decision !== previous && !decisionFromCluster && survivorState) decision.survivorTuning = Object.fromEntries(Object.keys(FORCED_TUNING).map((f) => [f, getFlag(argv, f) ?? null]))
  return {
    site: o.site,
    failedSites,
    method: decision.method,
    status,
    decision,
    resumed: !!previous && !previous.completedAt && decision === previous,
    survivorReason: reason,
    survivorName: getFlag(argv, '--name') ?? `etcd-${decision.survivor}`,
    survivorPeerUrl: getFlag(argv, '--initial-advertise-peer-urls') ?? `https://${inv.hosts[decision.survivor].address}:${inv.etcd.peerPort}`,
    deadHosts: failedSites.flatMap((s) => hostsInSite(inv, s).map((h) => h.name)),
    siteControlplanes,
    etcdDone: done.done,
    etcdDoneWhy: done.why,
    rejoin,
    // After the rebuild the survivor is the only member; the rest of the site joins back before the apiservers move.
    liveHosts: [...new Set([...(done.done ? done.hosts : [decision.survivor]), ...rejoin])],
    decisionFromCluster,
    staticPodApiserver: siteControlplanes.length > 0 && componentKind(inv, siteControlplanes[0]) === 'static-pod',
    kubeadmConfig: siteControlplanes.length > 0 && componentKind(inv, siteControlplanes[0]) === 'static-pod' && keepsKubeadmConfig(inv),
  }
}

export function describe(f: FailoverFacts): string[] {
  const m = f.status.members.find((x) => x.host === f.decision.survivor)
  const lines = [
    `surviving site: ${f.site}; lost: ${f.failedSites.join(', ')}`,
    `etcd: ${f.status.verdict.reachable} of ${f.status.verdict.members} members reachable, quorum ${f.status.verdict.hasQuorum ? 'present' : 'LOST'}`,
    ...f.status.members.map(
      (x) => `  ${x.host.padEnd(10)} site ${x.site}  ${x.reachable ? `term ${x.raftTerm} applied ${x.raftAppliedIndex} revision ${x.revision}` : `unreachable: ${x.error ?? ''}`}`,
    ),
  ]
  if (f.etcdDone) {
    lines.push(`etcd already runs from site ${f.site} alone (${f.etcdDoneWhy.join('; ')}): its steps are left out, nothing destructive runs on etcd`)
    if (f.decisionFromCluster) lines.push(`no decision of this failover is in this state directory: judged from the cluster alone`)
    return lines
  }
  lines.push(
    `survivor: ${f.decision.survivor} (${f.survivorName}) — ${f.survivorReason}`,
    f.method === 'force-new-cluster'
      ? 'method: force-new-cluster — restart the survivor with --force-new-cluster: it keeps its data, revision and cluster ID and drops every other member (seed 003).'
      : `method: restore — restore the safety snapshot as a new one-member cluster with the fresh token ${f.decision.token}: a new cluster ID, so old members can never merge back (etcd maintainers' preferred way).`,
  )
  if (m && !m.reachable && !f.resumed) lines.push(`warning: the survivor is not reachable now`)
  if (f.rejoin.length) {
    lines.push(
      `then ${f.rejoin.join(', ')} (site ${f.site}) rejoin one at a time as learners (old data quarantined, empty data dir, promoted once caught up), so every surviving etcd host is a member again`,
    )
  }
  return lines
}
