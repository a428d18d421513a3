// etcd and Kubernetes checks over what collect.ts gathered (pure): member health and quorum, alarms, DB size
// against the quota, leader changes, peer URLs against the hosts' addresses, --etcd-servers against the
// member list, apiserver readiness, Nodes Ready.
import type { Inventory } from '../inventory/types.ts'
import { getFlag } from '../container/command-flags.ts'
import { processArgv } from '../container/inspect.ts'
import type { ClusterReport, HostReport } from './collect.ts'
import { ok, problem, type CheckResult } from './types.ts'

export const DEFAULT_QUOTA = 2 * 1024 ** 3
export const LEADER_CHANGES_WARN = 10
const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`

/** The member's --quota-backend-bytes, etcd's default (2 GiB) when unset. */
export function quotaOf(h: HostReport): number {
  const v = h.inspects.etcd ? getFlag(processArgv(h.inspects.etcd), '--quota-backend-bytes') : undefined
  return v && Number(v) > 0 ? Number(v) : DEFAULT_QUOTA
}

export const hostOfUrl = (u: string): string => {
  try {
    return new URL(u).hostname
  } catch {
    return u // not a URL: compared as written
  }
}

export function etcdChecks(inv: Inventory, c: ClusterReport, hosts: HostReport[]): CheckResult[] {
  const out: CheckResult[] = []
  const e = c.etcd
  if (!e) return out
  for (const m of e.members) {
    if (m.quorumRead) out.push(ok('etcd', 'etcd-health', m.host, `member ${m.name ?? m.id} answers a quorum read in ${m.quorumReadMs} ms${m.isLeader ? ' (leader)' : ''}`))
    else
      out.push(problem('fail', 'etcd', 'etcd-health', m.host, m.error ? `etcd unreachable: ${m.error}` : `no quorum read through this member: ${m.errors.join('; ')}`,
        `dr doctor (it looks for moved addresses, alarms, dead peers); docker logs --tail 50 ${inv.etcd.container} on ${m.host}`, [...(m.errors ?? []), ...(m.error ? [m.error] : [])]))
  }
  const v = e.verdict
  const reach = `${v.reachable} of ${v.members} members reachable, quorum is ${v.quorum}`
  if (v.hasQuorum) out.push(ok('etcd', 'etcd-quorum', 'cluster', `quorum: ${reach}`))
  else out.push(problem('fail', 'etcd', 'etcd-quorum', 'cluster', `etcd has no quorum (${reach})`, 'dr doctor names the site that can take over and the dr failover command', e.members.map((m) => `${m.host}: ${m.reachable ? 'reachable' : `unreachable (${m.error})`}, quorum read ${m.quorumRead ? 'ok' : 'failed'}`)))

  if (c.alarmsError) out.push(problem('warn', 'etcd', 'etcd-alarms', 'cluster', `cannot list alarms: ${c.alarmsError}`, 'etcdctl alarm list on an etcd host'))
  else if (c.alarms) {
    if (c.alarms.length === 0) out.push(ok('etcd', 'etcd-alarms', 'cluster', 'no alarms'))
    else {
      const nospace = c.alarms.some((a) => a.alarm === 'Nospace' || a.alarm === 'NOSPACE')
      out.push(problem('fail', 'etcd', 'etcd-alarms', 'cluster', `alarms raised: ${c.alarms.map((a) => `${a.alarm} on member ${a.memberID}`).join(', ')}${nospace ? ' — the cluster refuses writes' : ''}`,
        nospace ? 'dr doctor --fix: compact, defragment every member, disarm (and raise --quota-backend-bytes if the data really grew)' : 'etcdctl alarm list; see etcd docs for the alarm', c.alarms.map((a) => `memberID:${a.memberID} alarm:${a.alarm}`)))
    }
  }
  for (const h of hosts) {
    const m = e.members.find((x) => x.host === h.host)
    if (!m?.dbSize || !h.inspects.etcd) continue
    const q = quotaOf(h)
    const used = m.dbSize / q
    const msg = `DB ${mb(m.dbSize)} of quota ${mb(q)} (${(used * 100).toFixed(0)}%)`
    const fix = 'compact and defragment (dr doctor --fix); raise --quota-backend-bytes if the data really grew'
    if (used > 0.95) out.push(problem('fail', 'etcd', 'etcd-db-size', h.host, msg, fix))
    else if (used > 0.8) out.push(problem('warn', 'etcd', 'etcd-db-size', h.host, msg, fix))
    else out.push(ok('etcd', 'etcd-db-size', h.host, msg))
    const lc = h.facts?.leaderChanges
    if (lc !== undefined) {
      if (lc > LEADER_CHANGES_WARN) out.push(problem('warn', 'etcd', 'etcd-leader-changes', h.host, `${lc} leader changes seen since the member started`, 'frequent elections: check disk latency, network between the members and clock skew', [`etcd_server_leader_changes_seen_total ${lc}`]))
      else out.push(ok('etcd', 'etcd-leader-changes', h.host, `${lc} leader change(s) since start`))
    }
  }
  // Each listed member's peer URL should be one of the inventory's etcd hosts' addresses.
  const addrs = new Map(Object.values(inv.hosts).map((h) => [h.address, h.name]))
  for (const m of e.memberList) {
    const bad = m.peerURLs.filter((u) => !addrs.has(hostOfUrl(u)))
    if (bad.length) out.push(problem('fail', 'etcd', 'etcd-peer-urls', m.name, `member ${m.name} advertises ${bad.join(', ')}, which is no host of the inventory`, 'dr doctor: the host may have moved to another address (docker restart), or the member was never removed', [`member ${m.id} ${m.name} peerURLs=${m.peerURLs.join(',')}`]))
    else out.push(ok('etcd', 'etcd-peer-urls', m.name, `peer URL ${m.peerURLs.join(', ')} is ${m.peerURLs.map((u) => addrs.get(hostOfUrl(u))).join(', ')}`))
  }
  return out
}

/** --etcd-servers of one apiserver against the member list: non-members and dead members (pure). */
export function etcdServersProblems(servers: string[], e: NonNullable<ClusterReport['etcd']>, self: string): { nonMembers: string[]; dead: string[] } {
  const clientHosts = new Map<string, string>()
  for (const m of e.memberList) for (const u of m.clientURLs) clientHosts.set(hostOfUrl(u), m.name)
  const nonMembers: string[] = []
  const dead: string[] = []
  for (const s of servers) {
    const h = hostOfUrl(s)
    if (h === '127.0.0.1' || h === 'localhost') continue // the host's own member (kubeadm)
    if (!clientHosts.has(h)) nonMembers.push(s)
    else {
      const st = e.members.find((m) => m.endpoint && hostOfUrl(m.endpoint) === h)
      if (st && !st.reachable && st.host !== self) dead.push(s)
    }
  }
  return { nonMembers, dead }
}

export function kubeChecks(inv: Inventory, c: ClusterReport, hosts: HostReport[]): CheckResult[] {
  const out: CheckResult[] = []
  for (const [h, r] of Object.entries(c.readyz)) {
    if (r.status === 200) out.push(ok('kubernetes', 'apiserver-ready', h, '/readyz ok'))
    else out.push(problem('fail', 'kubernetes', 'apiserver-ready', h, `/readyz ${r.status || 'unreachable'}: ${r.body.split('\n').filter((l) => l.includes('[-]') || l.length < 120).slice(0, 3).join(' ')}`, `${inv.flavor === 'rke' ? `docker logs --tail 50 ${inv.kubernetes.apiserverContainer}` : "docker ps -a --filter label=io.kubernetes.container.name=kube-apiserver, the newest one's docker logs --tail 50, the kubelet's log"} on ${h}; dr doctor`))
  }
  for (const h of hosts) {
    const a = h.inspects.apiserver
    if (!a || !c.etcd || c.etcd.memberList.length === 0) continue
    const servers = (getFlag(processArgv(a), '--etcd-servers') ?? '').split(',').filter(Boolean)
    const p = etcdServersProblems(servers, c.etcd, h.host)
    const ev = [`--etcd-servers=${servers.join(',')}`, `members: ${c.etcd.memberList.map((m) => `${m.name} ${m.clientURLs.join(',')}`).join('; ')}`]
    if (p.nonMembers.length) out.push(problem('fail', 'kubernetes', 'etcd-servers', h.host, `--etcd-servers names non-members: ${p.nonMembers.join(', ')}`, 'dr doctor --fix points it at the members only', ev))
    else if (p.dead.length) out.push(problem('warn', 'kubernetes', 'etcd-servers', h.host, `--etcd-servers names members that do not answer: ${p.dead.join(', ')}`, 'bring those members back, or remove them (dr failover) and repoint the apiservers', ev))
    else out.push(ok('kubernetes', 'etcd-servers', h.host, `--etcd-servers lists members only (${servers.length})`))
  }
  if (c.nodesError) out.push(problem('fail', 'kubernetes', 'nodes-ready', 'cluster', `cannot list Nodes: ${c.nodesError}`, 'fix the apiservers first (see apiserver-ready)'))
  for (const n of c.nodes ?? []) {
    const ready = n.status?.conditions?.find((x) => x.type === 'Ready')
    const name = n.metadata?.name ?? '?'
    if (ready?.status === 'True') out.push(ok('kubernetes', 'node-ready', name, 'Ready'))
    else out.push(problem('fail', 'kubernetes', 'node-ready', name, `Node ${name} is not Ready (${ready?.status ?? 'no condition'}: ${ready?.reason ?? ''} ${ready?.message ?? ''})`.trim(), `look at the kubelet on ${name}: docker logs --tail 50 ${inv.kubernetes.kubeletContainer}`, (n.spec?.taints ?? []).map((t) => `taint ${t.key}:${t.effect}`)))
  }
  return out
}
