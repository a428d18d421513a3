// The failure signatures, each a pure function over what was collected: the check results, the hosts' facts
// and inspects, the cluster's view, and the extra evidence doctor gathers (node containers seen from the local
// docker engine, etcd and kubelet log lines).
import type { Inventory } from '../inventory/types.ts'
import { hostsInSite } from '../inventory/types.ts'
import { chooseSurvivor } from '../cluster/quorum.ts'
import { getFlag } from '../container/command-flags.ts'
import { processArgv } from '../container/inspect.ts'
import type { CheckRun } from '../check/run.ts'
import { etcdServersProblems, hostOfUrl, quotaOf } from '../check/cluster-checks.ts'
import { findStaleContainers, inspectLine, parseKubeletName, parsePsRows, type StaleInspect } from './stale-container.ts'
import type { Diagnosis } from './types.ts'
import type { AddressMove } from './address-change.ts'

/** A host that is a docker container on this machine (kind nodes, the lab), as the local engine sees it. */
export interface NodeContainerView {
  host: string
  container: string
  network: string
  ip: string
  /** Set when docker keeps the address across restarts (docker network connect --ip). */
  pinnedIp?: string
  etcdLog: string[]
}

export interface DoctorEvidence {
  run: CheckRun
  containers: NodeContainerView[]
  kubeletLogs: Record<string, string>
  /** Per host: the inspect fields of the containers named in a name conflict (holders and stale ones). */
  staleInspects?: Record<string, StaleInspect[]>
  /** Per reachable etcd host: its etcd's last log lines about peers it cannot reach. */
  etcdLogs?: Record<string, string[]>
}

/** The docker container a host is, when it is one on this machine: `container` (kind) or the label dr/container. */
export const nodeContainerOf = (h: Inventory['hosts'][string]): string | undefined =>
  h.container ?? h.labels['dr/container'] ?? h.labels['dr.lab/container']

export function detectIpDrift(inv: Inventory, ev: DoctorEvidence): Diagnosis[] {
  const out: Diagnosis[] = []
  for (const c of ev.containers) {
    const want = inv.hosts[c.host].address
    if (!c.ip || c.ip === want) continue
    out.push({
      id: 'ip-drift',
      subject: c.host,
      title: `${c.host} came back on another address: ${c.ip} instead of ${want}`,
      cause: `the node container ${c.container} got a dynamic address from docker after a restart; etcd members still advertise and dial ${want} (seeds 000/001)`,
      evidence: [
        `docker inspect ${c.container}: NetworkSettings.Networks.${c.network}.IPAddress=${c.ip}, IPAMConfig.IPv4Address=${c.pinnedIp ?? '(none: dynamic)'}`,
        `inventory: hosts.${c.host}.address=${want}`,
        ...c.etcdLog.slice(-4),
      ],
      fix: `pin ${c.container} back to ${want} on ${c.network} (docker network disconnect, then connect --ip ${want}), so docker keeps it across restarts`,
      fixable: true,
      data: { container: c.container, network: c.network, ip: want, current: c.ip },
    })
  }
  return out
}

/** A reachable etcd host whose member advertises an address the host no longer has (a real address change). */
export function detectAddressChanged(inv: Inventory, ev: DoctorEvidence): Diagnosis[] {
  const out: Diagnosis[] = []
  for (const h of ev.run.hosts) {
    const e = h.inspects.etcd
    if (h.error || !e) continue
    const argv = processArgv(e)
    const peer = getFlag(argv, '--initial-advertise-peer-urls') ?? ''
    const addr = inv.hosts[h.host].address
    const adv = hostOfUrl(peer.split(',')[0] ?? '')
    if (adv === addr) {
      out.push(...apiserverLeftBehind(inv, ev, h, argv))
      continue
    }
    if (!adv || adv === '127.0.0.1' || adv === 'localhost') continue
    const name = getFlag(argv, '--name') ?? h.host
    const m = ev.run.cluster.etcd?.memberList.find((x) => x.name === name) ?? ev.run.cluster.etcd?.memberList.find((x) => x.peerURLs.some((u) => hostOfUrl(u) === adv))
    const peerUrl = `https://${addr}:${inv.etcd.peerPort}`
    const move: AddressMove = { host: h.host, from: adv, to: addr, memberId: m?.id, memberName: m?.name ?? name }
    const apiservers = ev.run.hosts
      .filter((x) => x.inspects.apiserver && (getFlag(processArgv(x.inspects.apiserver), '--etcd-servers') ?? '').split(',').some((u) => hostOfUrl(u) === adv))
      .map((x) => x.host)
    out.push({
      id: 'address-changed',
      subject: h.host,
      title: `etcd on ${h.host} advertises ${adv}, but the host is now ${addr}`,
      cause: 'the host moved to another address for good; the member list, the etcd flags, its certificate and the apiservers\' --etcd-servers still carry the old one, so its peers cannot reach it (nor accept its certificate from the new address)',
      evidence: [
        `${inv.etcd.container} --initial-advertise-peer-urls=${peer}`,
        `inventory: hosts.${h.host}.address=${addr}`,
        ...(m ? [`member ${m.id} ${m.name} peerURLs=${m.peerURLs.join(',')} clientURLs=${m.clientURLs.join(',')}`] : []),
        ...(apiservers.length ? [`kube-apiserver --etcd-servers names ${adv} on ${apiservers.join(', ')}`] : []),
        ...(ev.run.cluster.etcd?.members.filter((x) => x.host === h.host && !x.quorumRead).map((x) => `etcd through ${h.host}: ${x.error ?? x.errors.join('; ')}`) ?? []),
        // The peers' side: they still dial the old address.
        ...Object.entries(ev.etcdLogs ?? {}).filter(([peer]) => peer !== h.host).flatMap(([peer, lines]) => lines.filter((l) => l.includes(`${adv}:`)).slice(-1).map((l) => `etcd on ${peer}: ${l}`)),
      ],
      fix: `with quorum among the other members: etcdctl member update ${m?.id ?? '<id>'} --peer-urls=${peerUrl}; re-issue the member's certificate for ${addr} from the CA (--ca-key); re-create etcd on ${h.host} with every ${adv} replaced by ${addr}; wait until it is healthy and caught up; then the apiservers' flags (--etcd-servers, --advertise-address). Without quorum: pin the old address back, or dr failover`,
      fixable: true,
      data: { ...move },
    })
  }
  return out
}

/**
 * A move half done (a fix stopped after etcd's re-creation): etcd on the host advertises its new address, but its
 * kube-apiserver still advertises an address the host no longer has (`hostname -I`). Only that: an apiserver
 * advertising another address of the host (a second interface) is a choice, not a move.
 */
function apiserverLeftBehind(inv: Inventory, ev: DoctorEvidence, h: CheckRun['hosts'][number], etcdArgv: string[]): Diagnosis[] {
  const addr = inv.hosts[h.host].address
  const own = h.facts?.addresses
  if (!h.inspects.apiserver || !own?.includes(addr)) return []
  const from = getFlag(processArgv(h.inspects.apiserver), '--advertise-address')
  if (!from || from === addr || own.includes(from)) return []
  const name = getFlag(etcdArgv, '--name') ?? h.host
  const m = ev.run.cluster.etcd?.memberList.find((x) => x.name === name)
  const move: AddressMove = { host: h.host, from, to: addr, memberId: m?.id, memberName: m?.name ?? name }
  return [{
    id: 'address-changed',
    subject: h.host,
    title: `kube-apiserver on ${h.host} advertises ${from}, an address the host no longer has (it is now ${addr}; its etcd has moved already)`,
    cause: 'a move to a new address stopped half way: etcd was re-created with the new address, the kube-apiserver not yet',
    evidence: [`kube-apiserver --advertise-address=${from}`, `${inv.etcd.container} --initial-advertise-peer-urls=${getFlag(etcdArgv, '--initial-advertise-peer-urls') ?? '?'}`, `hostname -I on ${h.host}: ${own.join(' ')}`, `inventory: hosts.${h.host}.address=${addr}`],
    fix: `finish the move: re-create kube-apiserver on ${h.host} with every ${from} replaced by ${addr}, then the apiservers' --etcd-servers (the etcd steps find their work done)`,
    fixable: true,
    data: { ...move },
  }]
}

export function detectNospace(_inv: Inventory, ev: DoctorEvidence): Diagnosis[] {
  const alarms = ev.run.cluster.alarms ?? []
  const nospace = alarms.filter((a) => /nospace/i.test(a.alarm))
  if (!nospace.length) return []
  const sizes = ev.run.hosts.filter((h) => h.inspects.etcd).map((h) => {
    const m = ev.run.cluster.etcd?.members.find((x) => x.host === h.host)
    return `${h.host}: DB ${m?.dbSize ?? '?'} bytes, --quota-backend-bytes ${quotaOf(h)}`
  })
  return [{
    id: 'nospace',
    subject: 'cluster',
    title: 'etcd raised the NOSPACE alarm: the cluster accepts no writes',
    cause: "a member's backend reached its quota (--quota-backend-bytes); old revisions and free pages fill it until compaction and defragmentation",
    evidence: [...nospace.map((a) => `alarm list: memberID:${a.memberID} alarm:${a.alarm}`), ...sizes],
    fix: 'compact to the current revision, defragment every member, disarm the alarm, prove a write',
    fixable: true,
  }]
}

export function detectCertExpiry(inv: Inventory, ev: DoctorEvidence): Diagnosis[] {
  return ev.run.results
    .filter((r) => r.check === 'cert-expiry' && r.status !== 'ok')
    .map((r) => {
      const h = ev.run.hosts.find((x) => x.host === r.subject)
      const cert = h?.certs.find((c) => r.message.includes(c.path))
      return {
        id: 'cert-expiry' as const,
        subject: r.subject,
        title: r.message,
        cause: 'the certificate reaches its notAfter date; the component then refuses connections (or is refused)',
        evidence: r.evidence ?? [],
        fix: `re-issue it from the cluster CA with the same key and names, keep the old file, restart ${cert?.usedBy.split(' ')[0] ?? 'the component'} (dr doctor --fix --ca-key FILE; without the CA key: ${inv.flavor === 'rke' ? 'rke cert rotate' : 'kubeadm certs renew'})`,
        fixable: true,
        data: cert ? { path: cert.path, usedBy: cert.usedBy, notAfter: cert.notAfter } : undefined,
      }
    })
}

export function detectEtcdServers(inv: Inventory, ev: DoctorEvidence): Diagnosis[] {
  const e = ev.run.cluster.etcd
  if (!e?.memberList.length || !e.verdict.hasQuorum) return []
  const out: Diagnosis[] = []
  for (const h of ev.run.hosts) {
    if (!h.inspects.apiserver) continue
    const servers = (getFlag(processArgv(h.inspects.apiserver), '--etcd-servers') ?? '').split(',').filter(Boolean)
    const p = etcdServersProblems(servers, e, h.host)
    if (!p.nonMembers.length) continue
    out.push({
      id: 'etcd-servers',
      subject: h.host,
      title: `kube-apiserver on ${h.host} names etcd servers that are not members: ${p.nonMembers.join(', ')}`,
      cause: 'members were removed (a failover, a replaced host) but the apiserver flags were not updated (seed 003: rke up left them)',
      evidence: [`${inv.kubernetes.apiserverContainer} --etcd-servers=${servers.join(',')}`, `member list: ${e.memberList.map((m) => `${m.name}=${m.clientURLs.join(',')}`).join('; ')}`],
      fix: `re-create ${inv.kubernetes.apiserverContainer} on ${h.host} with --etcd-servers = the members' client URLs, restart the kubelet, wait for /readyz`,
      fixable: true,
    })
  }
  return out
}

export function detectQuorumLost(inv: Inventory, ev: DoctorEvidence, explained: boolean): Diagnosis[] {
  const e = ev.run.cluster.etcd
  if (!e || e.verdict.hasQuorum || explained) return []
  const bySite = Object.keys(inv.sites).map((s) => ({ s, choice: chooseSurvivor(e.members, s), reachable: hostsInSite(inv, s).filter((h) => e.members.some((m) => m.host === h.name && m.reachable)).length }))
  const best = bySite.filter((x) => x.choice.survivor).sort((a, b) => b.reachable - a.reachable)[0]
  return [{
    id: 'quorum-lost',
    subject: 'cluster',
    title: `etcd has lost quorum: ${e.verdict.reachable} of ${e.verdict.members} members reachable, ${e.verdict.quorum} needed`,
    cause: 'a majority of the members is down or cut off',
    evidence: e.members.map((m) => `${m.host} (site ${m.site}): ${m.reachable ? `reachable, raft applied index ${m.raftAppliedIndex}` : `unreachable: ${m.error}`}`),
    fix: best
      ? `site ${best.s} can take over (${best.choice.reason}): dr failover --site ${best.s} --plan, then dr failover --site ${best.s}`
      : 'no member is reachable: bring a site back (power, network) before anything else',
    fixable: false,
    data: best ? { site: best.s, command: `dr failover --site ${best.s}` } : undefined,
  }]
}

export function detectStaleContainers(ev: DoctorEvidence): Diagnosis[] {
  const out: Diagnosis[] = []
  for (const h of ev.run.hosts) {
    const log = ev.kubeletLogs[h.host]
    if (!log || !h.facts) continue
    const ps = parsePsRows(h.facts.containers.map((c) => `${c.id}\t${c.name}\t${c.state}\t${c.status}`).join('\n'))
    // What the operator saw first (seed 002: "connection refused"), tied to its cause.
    const symptoms = ev.run.results.filter((r) => r.subject === h.host && r.status === 'fail' && ['apiserver-ready', 'ports', 'container'].includes(r.check)).map((r) => `symptom: ${r.check}: ${r.message}`)
    for (const f of findStaleContainers(ps, log)) {
      out.push({
        id: 'stale-container',
        subject: h.host,
        title: `the kubelet on ${h.host} cannot create ${f.conflict.wanted}: the name is taken`,
        cause: 'an old container of the same static pod still holds the name the kubelet needs for the next one (seed 002)',
        evidence: [
          f.conflict.line,
          ...(f.holder ? [`holder: ${f.holder.id.slice(0, 12)} ${f.holder.name} ${f.holder.status}`] : []),
          ...f.stale.map((r) => `exited: ${r.id.slice(0, 12)} ${r.name} ${r.status}`),
          ...(ev.staleInspects?.[h.host] ?? []).filter((i) => f.stale.some((r) => r.id === i.id) || f.holder?.id === i.id).map(inspectLine),
          ...(parseKubeletName(f.conflict.wanted)?.container === 'kube-apiserver' ? symptoms : []),
        ],
        fix: `remove the exited containers of pod ${f.pod} only: docker rm ${f.stale.map((r) => r.id.slice(0, 12)).join(' ')}`,
        fixable: true,
        data: { ids: f.stale.map((r) => r.id), names: f.stale.map((r) => r.name) },
      })
    }
  }
  return out
}

export function detectAll(inv: Inventory, ev: DoctorEvidence): Diagnosis[] {
  const drift = detectIpDrift(inv, ev)
  return [
    ...drift,
    ...detectAddressChanged(inv, ev),
    ...detectQuorumLost(inv, ev, drift.length > 0),
    ...detectNospace(inv, ev),
    ...detectEtcdServers(inv, ev),
    ...detectCertExpiry(inv, ev),
    ...detectStaleContainers(ev),
  ]
}
