// The drill scenarios are data: what each one breaks, the exact dr commands it recovers and puts back with, and
// the inventories it refuses. Also where a drill may run at all (the lab, or a cluster named on purpose).
import t from 'tap'
import type { Host, Inventory } from '../../src/inventory/types.ts'
import { scenarioNamed, SCENARIOS } from '../../src/drill/scenarios/index.ts'
import { checkAllowed, labName } from '../../src/drill/safety.ts'
import { sabotaged, substitute, withoutHosts } from '../../src/drill/engine.ts'
import { hostsInSite } from '../../src/inventory/types.ts'
import { judgeStatus } from '../../src/drill/cluster-ops.ts'
import type { ActivitySpec } from '../../src/drill/types.ts'

type Spec = Record<string, { site: string; roles: Host['roles'] }>

/** A two-site inventory shaped like the lab's (site A: master1, master2, node1; site B: master3, node2). */
function inventory(opts: { cluster?: string; lab?: boolean; hosts?: Spec } = {}): Inventory {
  const cluster = opts.cluster ?? 'lab'
  const spec: Spec = opts.hosts ?? {
    master1: { site: 'A', roles: ['etcd', 'controlplane'] },
    master2: { site: 'A', roles: ['etcd', 'controlplane'] },
    node1: { site: 'A', roles: ['worker'] },
    master3: { site: 'B', roles: ['etcd', 'controlplane'] },
    node2: { site: 'B', roles: ['worker'] },
  }
  const prefix = cluster === 'lab' ? 'dr-lab-' : `dr-lab-${cluster}-`
  const hosts = Object.fromEntries(
    Object.entries(spec).map(([name, h], i) => [
      name,
      { name, site: h.site, address: `10.9.0.${i + 10}`, transport: 'ssh', roles: h.roles, labels: opts.lab === false ? {} : { 'dr.lab/container': `${prefix}${name}` }, ssh: {} as Host['ssh'], hostKeys: [] } satisfies Host,
    ]),
  )
  const sites: Inventory['sites'] = {}
  for (const [name, h] of Object.entries(spec)) (sites[h.site] ??= { name: h.site, hosts: [] }).hosts.push(name)
  return { file: `/tmp/${cluster}.yaml`, cluster, flavor: 'rke', sites, hosts, stateDir: `/tmp/.dr/${cluster}` } as unknown as Inventory
}

const drArgs = (list: ActivitySpec[]) => list.filter((a) => a.action.kind === 'dr').map((a) => (a.action as { args: string[] }).args.join(' '))

t.test('site-loss: power off the majority site, fail over to the other; put back with fence and failback', async (t) => {
  const p = scenarioNamed('site-loss').plan(inventory(), {})
  t.same(p.servingSites, ['B'])
  t.equal(p.lossBudget, 'none', 'every acknowledged write must survive')
  t.same(p.method.map((a) => [a.role, a.action.kind]), [['prepare', 'lead-from'], ['fault', 'stop-site'], ['detect', 'expect-status'], ['recovery', 'dr']])
  t.match(p.method[0].action, { site: 'B' }, 'leadership handed to the survivor first')
  t.match(p.method[1].action, { site: 'A' })
  t.same(drArgs(p.method), ['failover --site B --yes --json'])
  t.same(drArgs(p.rollbacks), ['fence --site A --yes --json', 'failback --site A --yes --json'])
  t.same(p.rollbacks.slice(1).map((a) => a.skipIf), [{ kind: 'site-in-cluster', site: 'A' }, { kind: 'site-in-cluster', site: 'A' }], 'no fence or failback when site A never left')
})

t.test('site-loss: --site and --survivor are honoured and checked', async (t) => {
  const inv = inventory({ hosts: { a1: { site: 'A', roles: ['etcd'] }, b1: { site: 'B', roles: ['etcd'] }, b2: { site: 'B', roles: ['etcd'] }, c1: { site: 'C', roles: ['etcd'] } } })
  t.same(drArgs(scenarioNamed('site-loss').plan(inv, {}).method), ['failover --site A --yes --json'], 'B holds the most members: it is lost by default')
  t.same(drArgs(scenarioNamed('site-loss').plan(inv, { site: 'A', survivor: 'C' }).method), ['failover --site C --yes --json'])
  t.throws(() => scenarioNamed('site-loss').plan(inv, { site: 'Z' }), { code: 'drill.bad-scenario', message: /site "Z" is not in the inventory \(sites: A, B, C\)/ })
  t.throws(() => scenarioNamed('site-loss').plan(inv, { site: 'A', survivor: 'A' }), { message: /both A/ })
  const one = inventory({ hosts: { a1: { site: 'A', roles: ['etcd'] }, w: { site: 'B', roles: ['worker'] } } })
  t.throws(() => scenarioNamed('site-loss').plan(one, {}), { message: /no other site than A has an etcd member/ })
})

t.test('site-return: split brain shown unfenced, one quorum fenced, then heal and failback', async (t) => {
  const p = scenarioNamed('site-return').plan(inventory(), {})
  t.same(p.servingSites, ['B', 'A'], 'after failback both sites serve again')
  t.same(p.workloadSites, ['B'], "site A's pods were evicted by the failover: only site B's must still be there")
  t.same(p.method.map((a) => a.id), ['lead-from-survivor', 'power-off', 'see-quorum-lost', 'failover', 'cut-off', 'power-on-cut-off', 'see-split-brain', 'fence', 'see-one-quorum', 'heal', 'failback'])
  t.same(drArgs(p.method), ['failover --site B --yes --json', 'fence --site A --yes --json', 'failback --site A --yes --json'])
  const idx = (id: string) => p.method.findIndex((a) => a.id === id)
  t.ok(idx('cut-off') < idx('power-on-cut-off'), 'the site is cut off before it powers on (it returns already partitioned)')
  t.ok(idx('see-split-brain') < idx('fence') && idx('fence') < idx('see-one-quorum'), 'split brain observed before the fence, one quorum after')
  t.ok(idx('heal') < idx('failback'), 'the partition heals before failback')
  t.match(p.method[idx('see-split-brain')].action, { kind: 'expect-status', expect: 'split-brain' })
  t.match(p.method[idx('cut-off')].action, { kind: 'partition', sites: ['A', 'B'] })
  t.same(p.rollbacks.map((a) => a.action.kind), ['heal', 'start-site'])
})

t.test('member-loss: the last member of the biggest site dies, a spare etcd host of its site replaces it, and back', async (t) => {
  // The lab's shape for this drill: master3 has the etcd role but is not a member (the spare).
  const hosts: Spec = {
    master1: { site: 'A', roles: ['etcd', 'controlplane'] },
    master2: { site: 'A', roles: ['etcd', 'controlplane'] },
    master3: { site: 'A', roles: ['etcd', 'controlplane'] },
    master4: { site: 'B', roles: ['etcd', 'controlplane'] },
    master5: { site: 'B', roles: ['etcd', 'controlplane'] },
  }
  const inv = inventory({ hosts })
  const live = { members: ['master1', 'master2', 'master4'] }
  const p = scenarioNamed('member-loss').plan(inv, {}, live)
  t.same(p.lostHosts, ['master2'])
  t.match(p.method[0].action, { kind: 'kill-host', host: 'master2' })
  t.match(p.method[1].action, { kind: 'expect-status', expect: 'quorum-kept' }, 'a dead member is not a healthy cluster, but quorum is kept')
  t.same(drArgs(p.method), ['member replace master2 --with master3 --yes --json'], 'the spare of the same site')
  t.same(drArgs(p.rollbacks), ['member replace master3 --with master2 --yes --json'])
  t.match(p.rollbacks[0].action, { kind: 'start-host', host: 'master2' })
  t.equal(p.rollbacks[1].retries, 2, 'the swap back is run again if it fails (its runbook resumes)')
  t.same(drArgs(scenarioNamed('member-loss').plan(inv, { host: 'master4' }, live).method), ['member replace master4 --with master5 --yes --json'], 'a spare of the dead host\'s site first')
  t.same(drArgs(scenarioNamed('member-loss').plan(inv, { host: 'master4', with: 'master3' }, live).method), ['member replace master4 --with master3 --yes --json'])
  t.throws(() => scenarioNamed('member-loss').plan(inv, { host: 'master3' }, live), { message: /host "master3" is not an etcd member/ })
  t.throws(() => scenarioNamed('member-loss').plan(inv, { with: 'master1' }, live), { message: /already an etcd member: the replacement must be a spare/ })
  t.throws(() => scenarioNamed('member-loss').plan(inventory(), { with: 'node1' }), { message: /does not have the etcd role/, hint: /dr member remove HOST/ })
  t.throws(() => scenarioNamed('member-loss').plan(inventory(), {}), { message: /no spare host to replace master2 with/ }, 'without live facts every etcd host is a member: no spare')
  t.throws(() => scenarioNamed('member-loss').plan(inv, {}, { members: Object.keys(hosts) }), { message: /no spare host/ })
})

t.test('total-loss: a backup first (the recovery point), every member wiped, restored from that backup', async (t) => {
  const p = scenarioNamed('total-loss').plan(inventory(), { store: 'offsite' })
  t.equal(p.lossBudget, 'after-backup')
  t.same(p.servingSites, ['A', 'B'])
  t.same(drArgs(p.method), ['backup now --store offsite --json', 'backup restore ${backup} --store offsite --yes --json'])
  t.same(p.method[0].capture, { backup: 'id' })
  t.ok(p.method[0].recoveryPoint)
  t.match(p.method[1].action, { kind: 'wipe-etcd', hosts: ['master1', 'master2', 'master3'] })
  t.match(p.rollbacks, [{ action: { kind: 'unwipe-etcd' }, onlyIfRecoveryFailed: true }])
  const restore = substitute(p.method[3], { backup: 'lab_20261201T000000Z_r42' })
  t.same((restore.action as { args: string[] }).args.slice(0, 3), ['backup', 'restore', 'lab_20261201T000000Z_r42'], 'the captured backup id is filled in')
})

t.test('every scenario has a name, a summary and a plan on the lab', async (t) => {
  t.same(SCENARIOS.map((s) => s.name), ['site-loss', 'site-return', 'member-loss', 'total-loss'])
  for (const s of SCENARIOS) {
    const p = s.plan(inventory(), {}, { members: ['master1', 'master2'] })
    t.ok(p.method.some((a) => a.role === 'fault'), `${s.name} injects a fault`)
    t.ok(p.method.some((a) => a.role === 'recovery'), `${s.name} recovers`)
  }
  t.throws(() => scenarioNamed('meteor'), { code: 'drill.no-such-scenario', message: /there is no drill scenario "meteor"/ })
})

t.test('a drill runs on a lab without asking; elsewhere only when the cluster is named', async (t) => {
  t.equal(labName(inventory()), 'lab')
  t.equal(labName(inventory({ cluster: 'h7-dev' })), 'h7-dev')
  t.same(checkAllowed(inventory(), undefined), { lab: 'lab' })
  const prod = inventory({ cluster: 'prod', lab: false })
  t.equal(labName(prod), undefined)
  t.throws(() => checkAllowed(prod, undefined), { code: 'drill.not-a-lab', exit: 'refused', message: /is not a dr lab/, hint: /--allow-destructive-drills prod/ })
  t.throws(() => checkAllowed(prod, 'staging'), { exit: 'refused', message: /names "staging", but this inventory's cluster is "prod"/ })
  t.same(checkAllowed(prod, 'prod'), {})
  // A lab label that names another lab's container does not make an inventory a lab.
  const forged = inventory({ cluster: 'prod' })
  forged.hosts.master1.labels['dr.lab/container'] = 'dr-lab-other-master1'
  t.equal(labName(forged), undefined)
})

t.test('sabotage turns each recovery command into a plan that changes nothing, and nothing else', async (t) => {
  const p = scenarioNamed('site-loss').plan(inventory(), {})
  const rec = sabotaged(p.method[3], 'recovery-noop')
  t.same((rec.action as { args: string[] }).args, ['failover', '--site', 'B', '--yes', '--json', '--plan'])
  t.match(rec.title, /sabotaged/)
  t.equal(sabotaged(p.method[1], 'recovery-noop'), p.method[1], 'the fault is untouched')
  t.equal(sabotaged(p.method[3], undefined), p.method[3], 'no sabotage without the variable')
})

t.test('dr status judged against what a scenario expects', async (t) => {
  t.match(judgeStatus('quorum-lost', 5, { verdict: { hasQuorum: false } }), { ok: true, detail: /no quorum/ })
  t.match(judgeStatus('quorum-lost', 0, { verdict: { hasQuorum: true } }), { ok: false })
  t.match(judgeStatus('split-brain', 5, { verdict: { hasQuorum: true }, splitBrain: ['master1+master2', 'master3'] }), { ok: true, detail: /split brain: master1\+master2 and master3/ })
  t.match(judgeStatus('split-brain', 0, { verdict: { hasQuorum: true } }), { ok: false })
  t.match(judgeStatus('one-quorum', 0, { verdict: { hasQuorum: true } }), { ok: true })
  t.match(judgeStatus('one-quorum', 5, { verdict: { hasQuorum: true }, splitBrain: ['a', 'b'] }), { ok: false })
  t.match(judgeStatus('one-quorum', 1, undefined), { ok: false, detail: /no quorum/ })
  t.match(judgeStatus('one-quorum', 5, { verdict: { hasQuorum: true } }), { ok: false }, 'one quorum means healthy: dr status exits 0')
  t.match(judgeStatus('quorum-kept', 5, { verdict: { hasQuorum: true } }), { ok: true, detail: /one quorum/ }, 'quorum kept with a member down')
  t.match(judgeStatus('quorum-kept', 5, { verdict: { hasQuorum: false } }), { ok: false })
  t.match(judgeStatus('quorum-kept', 5, { verdict: { hasQuorum: true }, splitBrain: ['a', 'b'] }), { ok: false })
})

t.test('the probes after a member-loss leave the dead host out of the host table and of its site', async (t) => {
  const inv = inventory()
  const w = withoutHosts(inv, new Set(['master2']))
  t.same(Object.keys(w.hosts).sort(), ['master1', 'master3', 'node1', 'node2'])
  t.same(hostsInSite(w, 'A').map((h) => h.name), ['master1', 'node1'], 'every host a site lists exists')
  t.same(hostsInSite(inv, 'A').map((h) => h.name), ['master1', 'master2', 'node1'], 'the inventory itself is untouched')
})
