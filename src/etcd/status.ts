// What `etcdctl endpoint status` shows, per member, plus what it does not: whether a linearizable read succeeds
// through the member (the quorum test), and a bounded-time error for members that cannot be reached.
import type { Inventory } from '../inventory/types.ts'
import { hostsWithRole } from '../inventory/types.ts'
import { quorumVerdict, type MemberView, type QuorumVerdict } from '../cluster/quorum.ts'
import { connectMember, type MemberConnection, type TransportSource } from './client.ts'

export interface MemberStatus extends MemberView {
  endpoint: string
  id?: string
  name?: string
  version?: string
  dbSize?: number
  isLeader?: boolean
  leaderId?: string
  isLearner?: boolean
  raftIndex?: number
  clusterId?: string
  errors: string[]
  /** Listed in the cluster's member list (false: removed, e.g. after a failover; undefined: list unknown). */
  listed?: boolean
  /** Why the member could not be reached or read. */
  error?: string
  quorumReadMs?: number
}

export interface ListedMember {
  id: string
  name: string
  peerURLs: string[]
  clientURLs: string[]
  isLearner: boolean
}

export interface ClusterStatus {
  members: MemberStatus[]
  /** The member list as one reachable member sees it (the survivor's view after a failover). */
  memberList: ListedMember[]
  memberListFrom?: string
  /** Each reachable member's own view of the member list (two views differ in a split brain). */
  memberLists: Record<string, ListedMember[]>
  verdict: QuorumVerdict
  probedAt: string
  durationMs: number
}

const hex = (id: string | undefined) => (id ? BigInt(id).toString(16) : undefined)

function errorText(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e)
  if (/DEADLINE|deadline/i.test(msg)) return 'timed out'
  // gRPC's UNAVAILABLE carries a paragraph; the host answered SSH, so etcd itself is not listening.
  if (/UNAVAILABLE/.test(msg) && /ECONNRESET|ECONNREFUSED|No connection established/.test(msg)) return 'etcd is not answering on its client port (not running?)'
  return msg.split('\n')[0].slice(0, 200)
}

export async function probeMember(
  conns: TransportSource,
  inv: Inventory,
  hostName: string,
  opts: { timeoutMs?: number; keep?: boolean } = {},
): Promise<{ status: MemberStatus; conn?: MemberConnection; members?: ListedMember[] }> {
  const host = inv.hosts[hostName]
  const status: MemberStatus = {
    host: hostName,
    site: host.site,
    endpoint: `https://${host.address}:${inv.etcd.clientPort}`,
    reachable: false,
    quorumRead: false,
    errors: [],
  }
  let conn: MemberConnection | undefined
  try {
    conn = await connectMember(conns, inv, hostName, { callTimeoutMs: opts.timeoutMs ?? 3000 })
    const s = await conn.client.maintenance.status()
    Object.assign(status, {
      reachable: true,
      id: hex(s.header.member_id),
      clusterId: hex(s.header.cluster_id),
      version: s.version,
      dbSize: Number(s.dbSize),
      leaderId: hex(s.leader),
      isLeader: s.leader === s.header.member_id,
      isLearner: s.isLearner,
      raftTerm: Number(s.raftTerm),
      raftIndex: Number(s.raftIndex),
      raftAppliedIndex: Number(s.raftAppliedIndex),
      revision: Number(s.header.revision),
      errors: s.errors ?? [],
    })
    const list = await conn.client.cluster.memberList({}).catch(() => undefined)
    const members = list?.members.map((m) => ({
      id: hex(m.ID)!,
      name: m.name,
      peerURLs: m.peerURLs,
      clientURLs: m.clientURLs,
      isLearner: m.isLearner,
    }))
    status.name = members?.find((m) => m.id === status.id)?.name
    const started = Date.now()
    try {
      // Linearizable (the default): only answered when the member can reach a quorum.
      await conn.client.get('dr-quorum-probe').exists()
      status.quorumRead = true
      status.quorumReadMs = Date.now() - started
    } catch (e) {
      status.errors.push(`quorum read: ${errorText(e)}`)
    }
    if (!opts.keep) {
      await conn.close()
      conn = undefined
    }
    return { status, conn, members }
  } catch (e) {
    status.error = errorText(e)
    await conn?.close().catch(() => {})
    return { status }
  }
}

export async function probeCluster(
  conns: TransportSource,
  inv: Inventory,
  opts: { timeoutMs?: number } = {},
): Promise<ClusterStatus> {
  const started = Date.now()
  const etcdHosts = hostsWithRole(inv, 'etcd').map((h) => h.name)
  const results = await Promise.all(etcdHosts.map((h) => probeMember(conns, inv, h, opts)))
  // Prefer the member list of a member that has quorum; else any reachable member's.
  const source = results.find((r) => r.status.quorumRead && r.members) ?? results.find((r) => r.members)
  const memberList = source?.members ?? []
  const statuses = results.map((r) => r.status)
  if (source) {
    for (const s of statuses) {
      const addr = inv.hosts[s.host].address
      s.listed = memberList.some((m) => m.peerURLs.some((u) => new URL(u).hostname === addr))
    }
  }
  // Quorum is counted over the members the cluster itself lists, when it could tell us.
  const voting = source ? statuses.filter((s) => s.listed) : statuses
  return {
    members: statuses,
    memberList,
    memberListFrom: source?.status.host,
    memberLists: Object.fromEntries(results.filter((r) => r.members).map((r) => [r.status.host, r.members!])),
    verdict: quorumVerdict(voting, Object.keys(inv.sites)),
    probedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
  }
}
