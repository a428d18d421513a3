// Quorum math and survivor choice: pure functions over data, where most of the failover's judgement lives.

import { quorumOf } from '../inventory/site-loss.ts'

export { quorumOf }

export interface MemberView {
  host: string
  site: string
  reachable: boolean
  /** A linearizable read succeeded through this member within the deadline. */
  quorumRead: boolean
  raftTerm?: number
  raftAppliedIndex?: number
  revision?: number
}

export interface SiteVerdict {
  site: string
  members: number
  reachable: number
  /** Members of the whole cluster, and how many make a quorum. */
  of: number
  quorum: number
  /** This site alone can keep the cluster writable. */
  holdsQuorum: boolean
}

export interface QuorumVerdict {
  members: number
  reachable: number
  quorum: number
  /** Proven by a linearizable read, not by a member's leader flag (an isolated member keeps claiming it). */
  hasQuorum: boolean
  sites: SiteVerdict[]
}

export function quorumVerdict(members: MemberView[], siteOrder: string[] = []): QuorumVerdict {
  const quorum = quorumOf(members.length)
  const siteNames = [...new Set([...siteOrder, ...members.map((m) => m.site)])]
  const sites = siteNames
    .map((site) => {
      const inSite = members.filter((m) => m.site === site)
      return {
        site,
        members: inSite.length,
        reachable: inSite.filter((m) => m.reachable).length,
        of: members.length,
        quorum,
        holdsQuorum: inSite.length >= quorum,
      }
    })
    .filter((s) => s.members > 0)
  return {
    members: members.length,
    reachable: members.filter((m) => m.reachable).length,
    quorum,
    hasQuorum: members.some((m) => m.quorumRead),
    sites,
  }
}

export interface SurvivorChoice {
  survivor?: MemberView
  /** The candidates in the site, best first, with why each ranks where it does. */
  ranked: MemberView[]
  reason: string
}

/**
 * The survivor is the reachable member of the named site with the highest raft applied index: it has applied the
 * most of the log, so forcing a new cluster from it loses the least. Ties go to the inventory's order.
 */
export function chooseSurvivor(members: MemberView[], site: string): SurvivorChoice {
  const inSite = members.map((m, order) => ({ m, order })).filter(({ m }) => m.site === site)
  const candidates = inSite.filter(({ m }) => m.reachable && m.raftAppliedIndex !== undefined)
  candidates.sort((a, b) => (b.m.raftAppliedIndex ?? 0) - (a.m.raftAppliedIndex ?? 0) || a.order - b.order)
  const ranked = candidates.map(({ m }) => m)
  if (inSite.length === 0) return { ranked, reason: `site ${site} has no etcd member in the inventory` }
  if (ranked.length === 0) return { ranked, reason: `no etcd member of site ${site} is reachable` }
  const best = ranked[0]
  const reason =
    ranked.length === 1
      ? `${best.host} is the only reachable member of site ${site} (applied index ${best.raftAppliedIndex})`
      : `${best.host} has the highest applied index in site ${site} (${ranked.map((m) => `${m.host}=${m.raftAppliedIndex}`).join(', ')})`
  return { survivor: best, ranked, reason }
}
