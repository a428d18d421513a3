// Members that join one at a time as learners (etcd ≥ 3.4) and leave without breaking quorum: the pure decisions
// `dr member` and `dr failback` take — the --initial-cluster a joining member must start with, when a learner has
// caught up, and whether a removal keeps quorum. Data in, data out; the runbooks do the talking.
import { DrError } from '../core/error.ts'
import { quorumOf } from '../cluster/quorum.ts'
import { formatInitialCluster, type ClusterPeer } from '../container/initial-cluster.ts'

/** A member as `member list` shows it (etcd3's IMember, ids as decimal strings). */
export interface ListedPeer {
  ID: string
  /** Empty until the member has started and published itself. */
  name: string
  peerURLs: string[]
  clientURLs?: string[]
  isLearner?: boolean
}

/** How far (in raft entries) a learner's applied index may trail the leader's and still count as caught up. */
export const CAUGHT_UP_LAG = 100

export const sameId = (a: string | number | undefined, b: string | number | undefined): boolean =>
  a !== undefined && b !== undefined && BigInt(a) === BigInt(b)

export const hexId = (id: string | number): string => BigInt(id).toString(16)

/** The member whose peer URLs name this host (by the URL's host part), if any. */
export function memberOfHost<M extends { peerURLs: string[] }>(members: readonly M[], address: string): M | undefined {
  return members.find((m) => m.peerURLs.some((u) => new URL(u).hostname === address))
}

/**
 * The --initial-cluster a new member starts with under --initial-cluster-state=existing: exactly the cluster's
 * members (etcd refuses a start whose list has a different count, "member count is unequal"), each started member
 * under its name, the joining member under its own. Another member that has not started yet cannot be named, and
 * would be a second unhealthy member at once: refused.
 */
export function joinInitialCluster(members: readonly ListedPeer[], self: { name: string; peerURL: string }): string {
  const selfHost = new URL(self.peerURL).hostname
  const peers: ClusterPeer[] = []
  for (const m of members) {
    if (m.peerURLs.some((u) => new URL(u).hostname === selfHost)) continue
    if (!m.name) {
      throw new DrError({
        code: 'member.other-unstarted',
        message: `member ${hexId(m.ID)} (${m.peerURLs.join(', ')}) is listed but has never started: one member joins at a time`,
        hint: `start that member, or remove it (etcdctl member remove ${hexId(m.ID)}) if it will not come`,
        exit: 'refused',
      })
    }
    for (const url of m.peerURLs) peers.push({ name: m.name, url })
  }
  peers.push({ name: self.name, url: self.peerURL })
  return formatInitialCluster(peers)
}

/** A learner has caught up when its applied index is within `lag` entries of the leader's. */
export function caughtUp(learnerApplied: number, leaderApplied: number, lag = CAUGHT_UP_LAG): boolean {
  return learnerApplied > 0 && leaderApplied - learnerApplied <= lag
}

export interface MemberHealth {
  ID: string
  name: string
  isLearner?: boolean
  /** Its etcd answers (status) as this member. */
  healthy: boolean
}

export type RemoveVerdict = { ok: true; remaining: number; quorum: number; healthyAfter: number } | { ok: false; reason: string }

/**
 * May this member be removed? Only when the voting members left behind still have a quorum of healthy members, and
 * never the last healthy one. Learners do not vote: removing one is always safe, and they do not count.
 */
export function removeVerdict(members: readonly MemberHealth[], targetId: string): RemoveVerdict {
  const target = members.find((m) => sameId(m.ID, targetId))
  if (!target) return { ok: false, reason: `member ${hexId(targetId)} is not listed` }
  const voters = members.filter((m) => !m.isLearner)
  const rest = voters.filter((m) => !sameId(m.ID, targetId))
  const healthyAfter = rest.filter((m) => m.healthy).length
  if (target.isLearner) return { ok: true, remaining: rest.length, quorum: quorumOf(rest.length), healthyAfter }
  if (rest.length === 0) return { ok: false, reason: `${target.name || hexId(target.ID)} is the only voting member: removing it would leave no cluster` }
  if (target.healthy && voters.filter((m) => m.healthy).length === 1) {
    return { ok: false, reason: `${target.name || hexId(target.ID)} is the only healthy member` }
  }
  const quorum = quorumOf(rest.length)
  if (healthyAfter < quorum) {
    const down = rest.filter((m) => !m.healthy).map((m) => m.name || hexId(m.ID))
    return {
      ok: false,
      reason: `the ${rest.length} members left would need ${quorum} healthy for quorum, and only ${healthyAfter} are (down: ${down.join(', ')})`,
    }
  }
  return { ok: true, remaining: rest.length, quorum, healthyAfter }
}
