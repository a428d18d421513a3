// What a failover knows once assessed, and the small readers every step group shares: the decision of this
// failover, which site a listed member belongs to, and asking the survivor a question without guessing.
import { DrError, isDrError } from '../../src/core/error.ts'
import { readDecision, type FailoverDecision } from '../../src/cluster/decision.ts'
import type { ClusterStatus } from '../../src/etcd/status.ts'
import { connectMember, memberEndpoint } from '../../src/etcd/client.ts'
import type { Inventory } from '../../src/inventory/types.ts'
import type { StepContext } from '../../src/runbook/types.ts'
import type { Etcd3 } from 'etcd3'
import { componentOf } from '../../src/component/index.ts'

export type Method = 'force-new-cluster' | 'restore'

export interface FailoverOptions {
  site: string
  method?: Method
  force?: boolean
  deleteNodes?: boolean
  rkeConfig?: string
}

export interface FailoverFacts {
  site: string
  failedSites: string[]
  method: Method
  status: ClusterStatus
  decision: FailoverDecision
  /** The decision was read back from an earlier, unfinished run. */
  resumed: boolean
  survivorReason: string
  /** etcd member name and peer URL of the survivor, from its container's flags. */
  survivorName: string
  survivorPeerUrl: string
  deadHosts: string[]
  /** Controlplane hosts of the surviving site: their apiservers are repointed, and dr talks to Kubernetes through them. */
  siteControlplanes: string[]
  /** The other etcd hosts of the surviving site: they rejoin one at a time as learners after the rebuild. */
  rejoin: string[]
  /**
   * Read from the cluster, never from the state directory: etcd already is what the failover makes (a quorum
   * through the surviving site, every listed member in it, no --force-new-cluster). The etcd steps are left out.
   */
  etcdDone: boolean
  /** Why etcdDone holds or not, in words, for the plan. */
  etcdDoneWhy: string[]
  /** The hosts of the etcd members the apiservers must use once the failover is through. */
  liveHosts: string[]
  /** No decision of this failover is in this state directory (it was finished from another one, or lost). */
  decisionFromCluster: boolean
  /** The site's first controlplane runs kube-apiserver as a static pod (kubeadm): kubeadm-config is kept too. */
  staticPodApiserver: boolean
  /** Static pods and a kubeconfig: kubeadm's ClusterStatus is kept in step with the members. */
  kubeadmConfig: boolean
}

export const opt = (o: Record<string, unknown>) => o as unknown as FailoverOptions

/** The decision file, only when it is this failover's (an older, finished failover's file is not). */
export function recorded(ctx: StepContext<FailoverFacts>): FailoverDecision | undefined {
  const d = readDecision(ctx.inv.stateDir, ctx.facts.site)
  return d && d.tag === ctx.facts.decision.tag ? d : undefined
}
export const decisionOf = (ctx: StepContext<FailoverFacts>): FailoverDecision => recorded(ctx) ?? ctx.facts.decision

export const unverified = (message: string) =>
  new DrError({ code: 'failover.unverified', message, exit: 'unverified', hint: 'read the journal, fix the cause, and run the failover again: it resumes' })

/** A listed member belongs to a site when one of its peer URLs is a host of that site. */
export const inSite = (inv: Inventory, site: string, m: { peerURLs: string[] }) =>
  Object.values(inv.hosts).some((h) => h.site === site && m.peerURLs.some((u) => new URL(u).hostname === h.address))

/** The client URLs every surviving apiserver must list, and nothing else. */
export const liveClientUrls = (inv: Inventory, f: FailoverFacts) => f.liveHosts.map((h) => memberEndpoint(inv, h))

/** What the survivor said, or that it did not answer in time (which is not "no"). */
export type Answer = { answered: true; yes: boolean } | { answered: false; why: string }

/** gRPC's deadline and "not listening" are silence; anything else (a certificate, SSH, a bug) is an error. */
const isSilence = (e: unknown) => {
  const msg = `${e instanceof Error ? e.message : String(e)} ${isDrError(e) && e.cause instanceof Error ? e.cause.message : ''}`
  return /DEADLINE_EXCEEDED|deadline|UNAVAILABLE|ECONNREFUSED|ECONNRESET|No connection established|timed out|Timeout/i.test(msg)
}

export async function askOnce(ctx: StepContext<FailoverFacts>, ask: (c: Etcd3) => Promise<boolean>, callTimeoutMs: number): Promise<Answer> {
  const host = ctx.facts.decision.survivor
  const conn = await connectMember(ctx.conns, ctx.inv, host, { callTimeoutMs })
  try {
    return { answered: true, yes: await ask(conn.client) }
  } catch (e) {
    if (!isSilence(e)) throw e
    return { answered: false, why: (e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 160) }
  } finally {
    await conn.close()
  }
}

/**
 * Ask the survivor; when it does not answer within 2 s, ask again for up to `patienceMs` with longer deadlines.
 * Still silent: an error that explains, never a guess — a "no" here would re-apply --force-new-cluster to a
 * member that may be fine and only slow.
 */
export async function askSurvivor(ctx: StepContext<FailoverFacts>, what: string, ask: (c: Etcd3) => Promise<boolean>, patienceMs = 30_000): Promise<boolean> {
  const host = ctx.facts.decision.survivor
  let a = await askOnce(ctx, ask, 2000)
  const until = Date.now() + patienceMs
  while (!a.answered && Date.now() < until) {
    ctx.out.progress(`etcd on ${host} did not answer within 2 s whether ${what} (${a.why}); asking again for up to ${Math.round(patienceMs / 1000)} s`)
    await new Promise((r) => setTimeout(r, 2000))
    a = await askOnce(ctx, ask, 8000)
  }
  if (a.answered) return a.yes
  const logs = componentOf(ctx.inv, await ctx.conns.get(host), 'etcd').logHint()
  throw new DrError({
    code: 'failover.survivor-silent',
    message: `etcd on ${host} is running but did not answer within ${Math.round(patienceMs / 1000) + 2} s whether ${what}: dr will not re-create it on a guess (that could force a new cluster on a member that is only slow)`,
    host,
    doing: `ask etcd on ${host} whether ${what}`,
    stderr: a.why,
    hint: `look at ${logs} and \`dr status\`; when etcd answers again, run the failover again: it resumes`,
  })
}

export const linearizableRead = async (c: Etcd3) => (await c.get('dr/probe/none').exists(), true)

/** True when the survivor leads a writable cluster that lists no member outside its site. */
export const survivorRunsAlone = (ctx: StepContext<FailoverFacts>) =>
  askSurvivor(ctx, `it runs a writable cluster of site ${ctx.facts.site} alone`, async (c) => (await c.cluster.memberList({})).members.every((m) => inSite(ctx.inv, ctx.facts.site, m)) && linearizableRead(c))
