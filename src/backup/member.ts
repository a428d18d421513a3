// Which member to snapshot: a healthy follower, so the leader keeps its disk and network for the cluster.
// Among followers, the most up to date (highest applied index). Pure.

export interface MemberCandidate {
  host: string
  reachable: boolean
  /** A linearizable read succeeded: the member is part of a working quorum. */
  quorumRead: boolean
  isLeader?: boolean
  isLearner?: boolean
  raftAppliedIndex?: number
  /** Alarms and errors the member reports. */
  errors: string[]
}

export type MemberChoice = { host: string; why: string } | { host?: undefined; why: string }

export function chooseSnapshotMember(members: MemberCandidate[]): MemberChoice {
  const healthy = members.filter((m) => m.reachable && !m.isLearner && m.errors.length === 0)
  const byIndex = (a: MemberCandidate, b: MemberCandidate) => (b.raftAppliedIndex ?? 0) - (a.raftAppliedIndex ?? 0)
  const followers = healthy.filter((m) => m.quorumRead && !m.isLeader).sort(byIndex)
  if (followers.length > 0) return { host: followers[0].host, why: `healthy follower with the highest applied index (${followers[0].raftAppliedIndex ?? '?'})` }
  const leader = healthy.find((m) => m.quorumRead && m.isLeader)
  if (leader) return { host: leader.host, why: healthy.length === 1 ? 'the only healthy member (the leader)' : 'the leader: no healthy follower answered' }
  // Without quorum a member still serves the Snapshot RPC; the freshest one is the best copy there is.
  const any = members.filter((m) => m.reachable && !m.isLearner).sort(byIndex)
  if (any.length > 0) return { host: any[0].host, why: `no member has quorum; ${any[0].host} has the highest applied index` }
  return { why: 'no etcd member could be reached' }
}
