// `dr status`: what `etcdctl endpoint status -w table` shows, per member, plus the member list and a quorum
// verdict decided by a linearizable read, per site; fenced and returned sites; split brain.
import type { Command } from 'commander'
import { formatBytes, formatDuration, table } from '../../core/output.ts'
import { ExitCode } from '../../core/error.ts'
import type { ClusterStatus } from '../../etcd/status.ts'
import type { FenceState } from '../../cluster/fence-state.ts'
import { action } from '../run.ts'

export function registerStatus(program: Command) {
  program
    .command('status')
    .description('etcd members (endpoint status), the member list, and a per-site quorum verdict')
    .option('--timeout <ms>', 'deadline for each member call', '3000')
    .addHelpText(
      'after',
      `
Quorum is decided by a linearizable read through each member with a short deadline, not by the leader flag:
an isolated member keeps reporting itself leader for a while. Unreachable members are listed with their error.

Exit status: 0 when etcd has quorum, 5 when it does not (or two quorums answer: split brain).

Example:
  dr status -i inventories/examples/rke-two-sites.yaml --json`,
    )
    .action(
      action(async (ctx, _args, opts) => {
        // Loaded here, not at startup: etcd3 (gRPC) is heavy and most commands never need it.
        const { probeCluster } = await import('../../etcd/status.ts')
        const { fenceState } = await import('../../cluster/fence-state.ts')
        const { Connections } = await import('../../transport/connect.ts')
        const inv = await ctx.inventory()
        const conns = new Connections(inv, { out: ctx.out })
        try {
          const status = await probeCluster(conns, inv, { timeoutMs: Number(opts.timeout) })
          // A failover is in effect while its survivor's member list holds only members of the site it failed
          // over to (unknown when the survivor cannot be read: then it is reported, to be safe).
          const inEffect = (d: { site: string; survivor: string }) => {
            const view = status.memberLists[d.survivor]
            const siteAddrs = (inv.sites[d.site]?.hosts ?? []).map((h) => inv.hosts[h].address)
            return !view || view.every((m) => m.peerURLs.some((u) => siteAddrs.includes(new URL(u).hostname)))
          }
          const fences = await fenceState(conns, inv, inEffect)
          const split = splitBrain(status)
          if (ctx.opts.json) ctx.out.data({ cluster: inv.cluster, inventory: inv.file, ...status, fences, splitBrain: split })
          else ctx.out.line(render(inv.cluster, inv.file, status, fences, split))
          return status.verdict.hasQuorum && !split ? ExitCode.ok : ExitCode.problems
        } finally {
          await conns.close()
        }
      }),
    )
}

/** Two members that each answer a quorum read but list different members are two clusters. */
export function splitBrain(s: ClusterStatus): string[] | undefined {
  const views = new Map<string, string[]>()
  for (const m of s.members.filter((x) => x.quorumRead)) {
    const key = `${m.clusterId}:${m.leaderId}`
    views.set(key, [...(views.get(key) ?? []), m.host])
  }
  return views.size > 1 ? [...views.values()].map((hosts) => hosts.join('+')) : undefined
}

function render(cluster: string, file: string, s: ClusterStatus, fences: FenceState[], split?: string[]): string {
  const rows = s.members.map((m) => [
    m.endpoint,
    m.host,
    m.site,
    m.id ?? '',
    m.version ?? '',
    m.dbSize !== undefined ? formatBytes(m.dbSize) : '',
    m.isLeader === undefined ? '' : String(m.isLeader),
    m.isLearner === undefined ? '' : String(m.isLearner),
    m.raftTerm?.toString() ?? '',
    m.raftIndex?.toString() ?? '',
    m.raftAppliedIndex?.toString() ?? '',
    m.quorumRead ? `ok ${m.quorumReadMs} ms` : m.reachable ? 'NO' : '',
    [m.error, ...m.errors].filter(Boolean).join('; '),
  ])
  const out = [
    `cluster ${cluster} (inventory ${file}), probed in ${formatDuration(s.durationMs)}`,
    '',
    table(['ENDPOINT', 'HOST', 'SITE', 'ID', 'VERSION', 'DB SIZE', 'IS LEADER', 'IS LEARNER', 'RAFT TERM', 'RAFT INDEX', 'RAFT APPLIED INDEX', 'QUORUM READ', 'ERRORS'], rows),
    '',
  ]
  if (s.memberList.length) {
    out.push(`member list (as ${s.memberListFrom} sees it):`)
    out.push(table(['ID', 'NAME', 'PEER URLS', 'CLIENT URLS', 'LEARNER'], s.memberList.map((m) => [m.id, m.name, m.peerURLs.join(','), m.clientURLs.join(','), String(m.isLearner)])))
    out.push('')
  }
  const v = s.verdict
  out.push(
    v.hasQuorum
      ? `quorum: yes — ${v.reachable} of ${v.members} members reachable, ${v.quorum} needed`
      : `quorum: LOST — no member could do a linearizable read; ${v.reachable} of ${v.members} reachable, ${v.quorum} needed`,
  )
  for (const site of v.sites) {
    out.push(
      `  site ${site.site}: holds ${site.members} of ${site.of} members (${site.reachable} reachable)` +
        (site.holdsQuorum ? ' — holds the majority: losing it loses quorum' : ''),
    )
  }
  if (!v.hasQuorum) {
    const alive = v.sites.filter((x) => x.reachable > 0).map((x) => x.site)
    if (alive.length === 1) out.push(`next: site ${alive[0]} survives — review \`dr failover --site ${alive[0]} --plan\``)
  }
  if (split) out.push(`SPLIT BRAIN: separate quorums answer through ${split.join(' and ')} — fence the returning site: dr fence --site <site>`)
  for (const f of fences) out.push(`site ${f.site}: ${f.summary}`)
  return out.join('\n')
}
