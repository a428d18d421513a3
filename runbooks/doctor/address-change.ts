// address-changed: a host that moved to another address for good. Per moved host, one at a time and only while
// the other members hold a quorum of the whole membership (the moved member is already cut off, so restarting
// it never takes a second member down): the member's peer URL updated through a live member (etcd's runtime
// reconfiguration: update the member, then restart it with the new flags), its certificate re-issued for the new
// address from the CA, etcd re-created through the component (RKE container or static pod) with every old
// address replaced, then waited for until it answers a linearizable read through itself (it has applied
// everything the leader had committed). After every moved host: every kube-apiserver's --etcd-servers.
import { X509Certificate } from 'node:crypto'
import fs from 'node:fs'
import { DrError } from '../../src/core/error.ts'
import { connectMember } from '../../src/etcd/client.ts'
import { probeCluster, probeMember, type ClusterStatus } from '../../src/etcd/status.ts'
import { getFlag } from '../../src/container/command-flags.ts'
import { readyzAnonymous } from '../../src/kube/client.ts'
import { addressEdits, argvCarries, parseSans, quorumWithoutMoved, replaceAddress, sansMoved, urlsAfterMoves, type AddressMove } from '../../src/doctor/address-change.ts'
import type { Diagnosis } from '../../src/doctor/types.ts'
import type { Step, StepContext } from '../../src/runbook/types.ts'
import type { Transport } from '../../src/transport/types.ts'
import { componentOf, reconfigureStep } from '../steps/containers.ts'
import { apiserverSteps } from '../steps/kube.ts'
import { noCaKey, reissue } from './renew-cert.ts'

export const movesOf = (ds: Diagnosis[]): AddressMove[] => ds.filter((d) => d.id === 'address-changed' && d.data).map((d) => d.data as unknown as AddressMove)

const peerUrl = (ctx: StepContext<unknown>, m: AddressMove) => `https://${m.to}:${ctx.inv.etcd.peerPort}`
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The member that is the moved host: by id, else by name, else by a peer URL on either address. */
function memberOf(s: ClusterStatus, m: AddressMove) {
  const host = (u: string) => (URL.canParse(u) ? new URL(u).hostname : '')
  return s.memberList.find((x) => x.id === m.memberId) ?? s.memberList.find((x) => x.name === m.memberName) ?? s.memberList.find((x) => x.peerURLs.some((u) => [m.from, m.to].includes(host(u))))
}

/** Refuse unless the members that did not move hold a quorum of the whole membership. */
export function requireQuorum(s: ClusterStatus, moves: AddressMove[], host?: string): void {
  const ids = s.memberList.map((x) => x.id)
  const movedIds = moves.map((m) => memberOf(s, m)?.id).filter((x): x is string => !!x)
  const q = quorumWithoutMoved(ids, s.members.filter((x) => x.id).map((x) => ({ id: x.id!, healthy: x.quorumRead })), movedIds)
  if (q.ok) return
  throw new DrError({
    code: 'doctor.address-change-no-quorum',
    message: `cannot move ${moves.map((m) => `${m.host} (${m.from} → ${m.to})`).join(', ')} now: ${q.healthy} member(s) besides the moved one(s) answer a quorum read, ${q.needed} of ${q.total} needed (the member update needs a quorum, and restarting the moved member must not cost it)`,
    host,
    exit: 'refused',
    hint: `bring the other members back first; or give the host its old address back (on docker-run nodes: docker network connect --ip ${moves[0]?.from ?? 'OLD'} …, then dr doctor --fix pins it); or, with a site lost, dr failover --site <site> --plan`,
  })
}

/** The member list last read with quorum in this run: the apiserver steps name its client URLs. */
export interface Seen {
  memberList: ClusterStatus['memberList']
}

/** The cluster now; probed again (up to three times) while no member answers a quorum read: a busy host's 3 s. */
async function liveView(ctx: StepContext<unknown>, seen?: Seen): Promise<ClusterStatus> {
  let s = await probeCluster(ctx.conns, ctx.inv, { timeoutMs: 3000 })
  for (let i = 0; i < 2 && !s.members.some((m) => m.quorumRead); i++) s = await probeCluster(ctx.conns, ctx.inv, { timeoutMs: 6000 })
  if (seen && s.memberList.length && s.members.some((m) => m.quorumRead)) seen.memberList = s.memberList
  return s
}

/**
 * The etcd servers every apiserver should name: the member list's client URLs with the moves applied. Never
 * empty: an apiserver given no etcd server would stop serving.
 */
export function etcdServersAfter(seen: Seen, moves: AddressMove[]): string[] {
  const urls = urlsAfterMoves(seen.memberList.flatMap((x) => x.clientURLs), moves)
  if (!urls.length) throw new DrError({ code: 'doctor.no-member-list', message: 'the etcd member list could not be read: cannot tell the apiservers which etcd servers to use', exit: 'failed', hint: 'dr check etcd; then run dr doctor --fix again' })
  return urls
}

function memberUpdateStep<F>(m: AddressMove, seen: Seen): Step<F> {
  let evidence = ''
  return {
    id: `member-update-${m.host}`,
    title: `Update the peer URL of ${m.host}'s etcd member to its new address ${m.to}`,
    host: m.host,
    async check(ctx) {
      const s = await liveView(ctx as StepContext<unknown>, seen)
      const member = memberOf(s, m)
      if (!member) throw new DrError({ code: 'doctor.no-member', message: `no etcd member of ${m.host} in the member list (${s.memberList.map((x) => `${x.name} ${x.peerURLs.join(',')}`).join('; ') || 'unread'})`, host: m.host, hint: 'dr check etcd' })
      const want = peerUrl(ctx as StepContext<unknown>, m)
      if (member.peerURLs.length === 1 && member.peerURLs[0] === want) return []
      requireQuorum(s, [m], m.host)
      const via = s.members.find((x) => x.quorumRead && x.host !== m.host)?.host
      return [{ host: via, summary: `member ${member.id} (${member.name}): peer URLs ${member.peerURLs.join(',')} → ${want}, through ${via}`, command: `etcdctl member update ${member.id} --peer-urls=${want}` }]
    },
    async apply(ctx) {
      const s = await liveView(ctx as StepContext<unknown>)
      requireQuorum(s, [m], m.host)
      const member = memberOf(s, m)!
      const via = s.members.find((x) => x.quorumRead && x.host !== m.host)!.host
      const c = await connectMember(ctx.conns, ctx.inv, via, { callTimeoutMs: 15_000 })
      try {
        await c.client.cluster.memberUpdate({ ID: BigInt(`0x${member.id}`).toString(), peerURLs: [peerUrl(ctx as StepContext<unknown>, m)] })
      } finally {
        await c.close()
      }
      evidence = `through ${via}`
    },
    async verify(ctx) {
      const s = await liveView(ctx as StepContext<unknown>)
      const member = memberOf(s, m)
      const want = peerUrl(ctx as StepContext<unknown>, m)
      if (!member || member.peerURLs.join(',') !== want) throw new DrError({ code: 'step.unverified', message: `member of ${m.host} lists peer URLs ${member?.peerURLs.join(',') ?? '(no member)'}, not ${want}`, host: m.host, exit: 'unverified' })
      return `member list (from ${s.memberListFrom}): ${member.id} ${member.name} peerURLs=${want} ${evidence}`
    },
  }
}

interface CertPlan {
  /** The files etcd names now (old ones before the re-creation). */
  cert: string
  key: string
  ca: string
  /** Where the certificate for the new address goes (RKE names it after the address; kubeadm keeps the path). */
  target: string
  targetKey: string
}

const PAIRS: Array<[string, string, string]> = [['--cert-file', '--key-file', '--trusted-ca-file'], ['--peer-cert-file', '--peer-key-file', '--peer-trusted-ca-file']]

export function certPlans(argv: string[], m: Pick<AddressMove, 'from' | 'to'>, defaultCa: string): CertPlan[] {
  const out: CertPlan[] = []
  for (const [c, k, a] of PAIRS) {
    const cert = getFlag(argv, c)
    const key = getFlag(argv, k)
    if (!cert || !key) continue
    const target = replaceAddress(cert, m.from, m.to)
    if (out.some((p) => p.target === target)) continue
    out.push({ cert, key, ca: getFlag(argv, a) ?? defaultCa, target, targetKey: replaceAddress(key, m.from, m.to) })
  }
  return out
}

async function readIf(t: Transport, file: string): Promise<Buffer | undefined> {
  const r = await t.$.with({ timeoutMs: 20_000 })`test -f ${file}`.nothrow()
  return r.ok ? t.readFile(file) : undefined
}

/** Does the certificate carry `to` among its IP SANs, and not `from`? */
const coversMove = (pem: Buffer | undefined, m: AddressMove) => {
  if (!pem) return false
  const ips = parseSans(new X509Certificate(pem).subjectAltName).ips
  return ips.includes(m.to) && !ips.includes(m.from)
}

function certStep<F>(m: AddressMove): Step<F> {
  const plans = async (ctx: StepContext<F>) => {
    const t = await ctx.conns.get(m.host)
    const s = await componentOf(ctx.inv, t, 'etcd').state()
    if (!s) throw new DrError({ code: 'component.not-found', message: `there is no etcd on ${m.host}`, host: m.host })
    return { t, plans: certPlans(s.argv, m, ctx.inv.etcd.caFile) }
  }
  const lines: string[] = []
  return {
    id: `reissue-etcd-cert-${m.host}`,
    title: `Issue ${m.host}'s etcd certificate for ${m.to} from the cluster CA`,
    host: m.host,
    async check(ctx) {
      const { t, plans: ps } = await plans(ctx)
      const todo = []
      for (const p of ps) if (!coversMove(await readIf(t, p.target), m)) todo.push(p)
      if (!todo.length) return []
      const caKey = ctx.options.caKey as string | undefined
      if (!caKey || !fs.existsSync(caKey)) throw noCaKey(`${m.host}'s etcd certificate must be issued for its new address ${m.to}`, caKey)
      return todo.map((p) => ({ host: m.host, summary: `sign ${p.target} for ${m.to} (same key, subject and extensions as ${p.cert}; IP ${m.from} replaced by ${m.to})${p.target === p.cert ? `; the old one kept as ${p.cert}.dr-old-<time>` : `; ${p.cert} stays`}` }))
    },
    async apply(ctx) {
      const { t, plans: ps } = await plans(ctx)
      const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')
      for (const p of ps) {
        if (coversMove(await readIf(t, p.target), m)) continue
        const old = await t.readFile(p.cert)
        const sans = sansMoved(parseSans(new X509Certificate(old).subjectAltName), m.from, m.to)
        const fresh = await reissue(old, await t.readFile(p.key), await t.readFile(p.ca), ctx.options.caKey as string, { subjectAltName: sans })
        if (p.targetKey !== p.key && !(await readIf(t, p.targetKey))) await t.writeFile(p.targetKey, await t.readFile(p.key), { mode: 0o600 })
        if (await readIf(t, p.target)) await t.rename(p.target, `${p.target}.dr-old-${stamp}`)
        await t.writeFile(`${p.target}.dr-new`, fresh, { mode: 0o644 })
        await t.rename(`${p.target}.dr-new`, p.target)
        lines.push(`${p.target}: SANs ${sans}`)
      }
    },
    async verify(ctx) {
      const { t, plans: ps } = await plans(ctx)
      for (const p of ps) {
        const pem = await readIf(t, p.target)
        if (!coversMove(pem, m)) throw new DrError({ code: 'step.unverified', message: `${p.target} on ${m.host} does not carry ${m.to} (or still carries ${m.from})`, host: m.host, exit: 'unverified' })
        if (!new X509Certificate(pem!).checkIssued(new X509Certificate(await t.readFile(p.ca)))) throw new DrError({ code: 'step.unverified', message: `${p.target} was not issued by ${p.ca}`, host: m.host, exit: 'unverified' })
      }
      return lines.join('; ') || ps.map((p) => `${p.target} carries ${m.to}`).join('; ')
    },
  }
}

/** The member answers a linearizable read through itself: it reached the leader and applied what was committed. */
async function memberHealthy(ctx: StepContext<unknown>, host: string) {
  return (await probeMember(ctx.conns, ctx.inv, host, { timeoutMs: 3000 })).status
}

function recreateEtcdStep<F>(m: AddressMove): Step<F> {
  return reconfigureStep<F>({
    id: `recreate-etcd-${m.host}`,
    title: `Re-create etcd on ${m.host} with every ${m.from} replaced by ${m.to}`,
    host: m.host,
    component: 'etcd',
    edit: (_f, _inv, s) => ({ setArgs: addressEdits(s?.argv ?? [], m.from, m.to) }),
    async done(ctx, s) {
      if (!s?.running || argvCarries(s.argv, m.from)) return false
      return (await memberHealthy(ctx as StepContext<unknown>, m.host)).quorumRead
    },
    async after(ctx) {
      const started = Date.now()
      let last = await memberHealthy(ctx as StepContext<unknown>, m.host)
      while (!last.quorumRead && Date.now() - started < 120_000) {
        await sleep(1000)
        last = await memberHealthy(ctx as StepContext<unknown>, m.host)
      }
      if (!last.quorumRead) {
        throw new DrError({ code: 'doctor.member-not-healthy', message: `etcd on ${m.host} does not answer a quorum read 120 s after its re-creation: ${last.error ?? last.errors.join('; ')}`, host: m.host, hint: `${componentOf(ctx.inv, await ctx.conns.get(m.host), 'etcd').logHint()}; its peers' logs say whether they reach https://${m.to}:${ctx.inv.etcd.peerPort}` })
      }
      return `a linearizable read through ${m.host} after ${((Date.now() - started) / 1000).toFixed(1)} s (raft applied index ${last.raftAppliedIndex})`
    },
  })
}

/**
 * The moved host's kube-apiserver: every old address in its flags (--advertise-address, its own member in
 * --etcd-servers), so the --etcd-servers step that follows finds it done and it is re-created once.
 */
function apiserverAddressStep<F>(m: AddressMove): Step<F> {
  return reconfigureStep<F>({
    id: `apiserver-address-${m.host}`,
    title: `Re-create kube-apiserver on ${m.host} with every ${m.from} replaced by ${m.to}`,
    host: m.host,
    component: 'kube-apiserver',
    edit: (_f, _inv, s) => ({ setArgs: addressEdits(s?.argv ?? [], m.from, m.to) }),
    done: async (_ctx, s) => !s || (s.running && !argvCarries(s.argv, m.from)),
    async after(ctx) {
      const started = Date.now()
      let last = await readyzAnonymous(ctx.conns, ctx.inv, m.host)
      while (last.status !== 200 && Date.now() - started < 60_000) {
        await sleep(500)
        last = await readyzAnonymous(ctx.conns, ctx.inv, m.host)
      }
      if (last.status !== 200) throw new DrError({ code: 'kube.not-ready', message: `kube-apiserver on ${m.host} is not ready 60 s after its re-creation (last: ${last.status} ${last.body.slice(0, 120)})`, host: m.host, hint: componentOf(ctx.inv, await ctx.conns.get(m.host), 'kube-apiserver').logHint() })
      return `/readyz ok after ${((Date.now() - started) / 1000).toFixed(1)} s`
    },
  })
}

/**
 * The fix of every address-changed diagnosis: per moved host its member, certificate and etcd; then every
 * moved host's kube-apiserver with the old address replaced everywhere, then every reachable kube-apiserver's
 * --etcd-servers (the member list's client URLs with the moves applied; the RKE kubelet restarted, /readyz).
 */
export function addressChangeSteps<F extends { diagnoses: Diagnosis[]; evidence: { run: { cluster: { etcd?: ClusterStatus }; hosts: Array<{ host: string; error?: unknown; inspects: { apiserver?: unknown } }> } } }>(facts: F): Step<F>[] {
  const moves = movesOf(facts.diagnoses)
  if (!moves.length) return []
  const etcd = facts.evidence.run.cluster.etcd
  // Refused here when the diagnosis already saw too few members; an unread member list is left to the steps' own live checks.
  if (etcd?.memberList.length) requireQuorum(etcd, moves)
  // Filled again by every member-update check (plan and apply run them before the apiserver steps).
  const seen: Seen = { memberList: etcd?.memberList ?? [] }
  const apiHosts = facts.evidence.run.hosts.filter((h) => !h.error && h.inspects.apiserver).map((h) => h.host)
  return [
    ...moves.flatMap((m) => [memberUpdateStep<F>(m, seen), certStep<F>(m), recreateEtcdStep<F>(m)]),
    ...moves.filter((m) => apiHosts.includes(m.host)).map((m) => apiserverAddressStep<F>(m)),
    ...apiserverSteps<F>(apiHosts, () => etcdServersAfter(seen, moves)),
  ]
}
