// "If this site is lost": how many etcd members are left and whether they still make a quorum.

export interface SiteLossRow {
  site: string
  membersInSite: number
  total: number
  left: number
  quorum: number
  quorumKept: boolean
}

export const quorumOf = (members: number): number => Math.floor(members / 2) + 1

/** One row per site, from the number of etcd members in each. */
export function siteLossTable(membersBySite: Record<string, number>): SiteLossRow[] {
  const total = Object.values(membersBySite).reduce((a, b) => a + b, 0)
  const quorum = quorumOf(total)
  return Object.entries(membersBySite).map(([site, n]) => ({
    site,
    membersInSite: n,
    total,
    left: total - n,
    quorum,
    quorumKept: total > 0 && total - n >= quorum,
  }))
}
