// The cluster's membership as a joining or leaving member's runbook needs it: a member that answers a quorum read
// (to change the membership through), the member list, and whether one host's etcd answers as the member the list
// names for it. Read fresh by every check, so a resumed run sees what a killed run did.
import { DrError, isDrError } from '../core/error.ts'
import type { Inventory } from '../inventory/types.ts'
import { connectMember, type MemberConnection, type TransportSource } from './client.ts'
import { memberOfHost, sameId, type ListedPeer } from './learner.ts'

export interface Membership {
  /** The host whose member answered a linearizable read; membership changes go through it. */
  via: string
  clusterId: string
  members: ListedPeer[]
  /** The raft applied index of the member answering (a voting member with quorum). */
  appliedIndex: number
}

/** What one host's etcd says about itself, when it answers. */
export interface SelfView {
  host: string
  answers: boolean
  memberId?: string
  clusterId?: string
  isLearner?: boolean
  appliedIndex?: number
  error?: string
}

const preferred = new Map<string, string>()

async function tryMember(conns: TransportSource, inv: Inventory, host: string, timeoutMs: number): Promise<{ conn: MemberConnection; m: Membership }> {
  const conn = await connectMember(conns, inv, host, { callTimeoutMs: timeoutMs })
  try {
    // Linearizable: only a member in touch with a quorum answers it.
    await conn.client.get('dr/probe/none').exists()
    const list = await conn.client.cluster.memberList({ linearizable: true })
    const status = await conn.client.maintenance.status()
    const members = list.members.map((x) => ({ ID: x.ID, name: x.name, peerURLs: x.peerURLs, clientURLs: x.clientURLs, isLearner: x.isLearner }))
    return { conn, m: { via: host, clusterId: status.header.cluster_id, members, appliedIndex: Number(status.raftAppliedIndex) } }
  } catch (e) {
    await conn.close()
    throw e
  }
}

/**
 * Reach a member with quorum among `candidates` (the one that answered last time first, then all at once) and read
 * the membership. The connection is closed unless `keep`.
 */
export async function readMembership(
  conns: TransportSource,
  inv: Inventory,
  candidates: string[],
  opts: { timeoutMs?: number } = {},
): Promise<Membership> {
  const r = await connectWithQuorum(conns, inv, candidates, opts)
  await r.conn.close()
  return r.m
}

/**
 * How long quorum reads are retried while the members answer but none can serve one: an election is under way (the
 * leader has just died). Followers wait out the election timeout first (RKE's etcd: 5 s, randomised up to 10 s), and
 * a loaded host adds to it. Members that cannot be reached at all fail after `attempts`, as before.
 */
const ELECTION_BUDGET_MS = 30_000
/** A member's answer while it has no leader: its quorum read times out, or says so. */
const ELECTING = /DEADLINE_EXCEEDED|deadline exceeded|no leader|leader changed|request timed out/i

export async function connectWithQuorum(
  conns: TransportSource,
  inv: Inventory,
  candidates: string[],
  opts: { timeoutMs?: number; attempts?: number; electionBudgetMs?: number } = {},
): Promise<{ conn: MemberConnection; m: Membership }> {
  // A loaded host can miss one deadline; a cluster without quorum misses every one.
  const attempts = opts.attempts ?? 2
  const budget = opts.electionBudgetMs ?? ELECTION_BUDGET_MS
  const started = Date.now()
  for (let i = 1; ; i++) {
    try {
      return await connectOnce(conns, inv, candidates, opts)
    } catch (e) {
      if (!isDrError(e) || e.code !== 'member.no-quorum') throw e
      const electing = (e.evidence ?? []).some((line) => ELECTING.test(line))
      if (i >= attempts && !(electing && Date.now() - started < budget)) throw e
    }
  }
}

async function connectOnce(
  conns: TransportSource,
  inv: Inventory,
  candidates: string[],
  opts: { timeoutMs?: number } = {},
): Promise<{ conn: MemberConnection; m: Membership }> {
  const timeoutMs = opts.timeoutMs ?? 5000
  const key = `${inv.file}`
  const first = preferred.get(key)
  const errors: string[] = []
  if (first && candidates.includes(first)) {
    try {
      return await tryMember(conns, inv, first, timeoutMs)
    } catch (e) {
      errors.push(`${first}: ${message(e)}`)
    }
  }
  const rest = candidates.filter((h) => h !== first)
  const attempts = rest.map((h) => tryMember(conns, inv, h, timeoutMs))
  try {
    const won = await Promise.any(attempts)
    preferred.set(key, won.m.via)
    // The others that also answer are closed; their failures are already what `errors` would hold.
    for (const a of attempts) void a.then((x) => (x === won ? undefined : x.conn.close()), () => undefined)
    return won
  } catch (e) {
    const all = e instanceof AggregateError ? e.errors : [e]
    all.forEach((x, i) => errors.push(`${rest[i]}: ${message(x)}`))
    throw new DrError({
      code: 'member.no-quorum',
      message: `no etcd member answers a quorum read (tried ${candidates.join(', ')})`,
      evidence: errors,
      hint: 'check `dr status`; membership can only change while the cluster has quorum (after a site loss: dr failover first)',
    })
  }
}

function message(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e)
  return m.split('\n')[0].slice(0, 160)
}

/** Ask one host's etcd who it is (works on a learner, and on a member without quorum). */
export async function selfView(conns: TransportSource, inv: Inventory, host: string, timeoutMs = 3000): Promise<SelfView> {
  let conn: MemberConnection | undefined
  try {
    conn = await connectMember(conns, inv, host, { callTimeoutMs: timeoutMs })
    const s = await conn.client.maintenance.status()
    return { host, answers: true, memberId: s.header.member_id, clusterId: s.header.cluster_id, isLearner: s.isLearner, appliedIndex: Number(s.raftAppliedIndex) }
  } catch (e) {
    // Not answering is a state here (not started yet, stopped, removed), not a failure of the runbook.
    return { host, answers: false, error: message(e) }
  } finally {
    await conn?.close().catch(() => undefined)
  }
}

export type JoinState =
  /** Not in the member list. */
  | 'absent'
  /** Listed, but its etcd does not answer as that member (never started, stopped, or an old cluster's member). */
  | 'listed-not-running'
  /** Listed as a learner and its etcd answers as it. */
  | 'learner'
  /** A started voting member whose etcd answers as it. */
  | 'voter'

export function joinState(m: Membership, address: string, self: SelfView): JoinState {
  const listed = memberOfHost(m.members, address)
  if (!listed) return 'absent'
  const answersAsIt = self.answers && sameId(self.memberId, listed.ID) && sameId(self.clusterId, m.clusterId)
  if (!answersAsIt || !listed.name) return 'listed-not-running'
  return listed.isLearner ? 'learner' : 'voter'
}
