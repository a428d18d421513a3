// dr failover --method restore on the lab: the safety snapshot becomes a new one-member cluster with a fresh
// token — a new cluster ID, every key kept, the old member's data kept aside — and a second run has nothing to do.
import t from 'tap'
import { TestLab } from '../helpers/lab.ts'
import { applied, planned } from '../helpers/plan-vs-apply.ts'

const KEYS = 200
const lab = new TestLab('e2e-restore')

const clusterId = async (node: string) => JSON.parse(await lab.etcdctl(node, ['endpoint', 'status', '-w', 'json']))[0].Status.header.cluster_id

t.before(() => lab.fresh())
t.teardown(() => lab.down())

t.test('restore method: new cluster ID, every key, verified, idempotent', async (t) => {
  await lab.sh('master1', `docker exec etcd sh -c 'for i in $(seq 1 ${KEYS}); do etcdctl put /registry/restore/key-$i value-$i >/dev/null; done'`, 300_000)
  const before = await clusterId('master3')
  await lab.stopSite('A')

  const plan = await lab.dr(['failover', '--site', 'B', '--method', 'restore', '--plan', '--json'])
  t.equal(plan.code, 0, plan.stderr)
  t.same(
    plan.json().steps.map((s: any) => s.id).slice(0, 7),
    // The lab's inventory has a fence agent: the lost site is powered off (here: found off) before anything else.
    ['power-off-site-A', 'record-decision', 'safety-snapshot', 'copy-data-aside', 'restore-snapshot', 'start-restored', 'count-keys'],
  )
  t.match(plan.json().description.join('\n'), /method: restore .*fresh token/)

  const r = await lab.dr(['failover', '--site', 'B', '--method', 'restore', '--yes', '--json'])
  t.equal(r.code, 0, r.stderr)
  t.equal(r.json().status, 'succeeded')
  t.match(r.json().verification.join('\n'), /quorum read and write through master3: ok/)
  t.same(applied(r.json()), planned(plan.json()), 'failover --method restore: the plan listed the steps the apply changed')

  const after = await clusterId('master3')
  t.not(after, before, `a new cluster ID (${before} → ${after})`)
  const members = JSON.parse(await lab.etcdctl('master3', ['member', 'list', '-w', 'json'])).members
  t.equal(members.length, 1)
  const keys = (await lab.etcdctl('master3', ['get', '/registry/restore/', '--prefix', '--keys-only'])).split('\n').filter((l) => l.includes('key-'))
  t.equal(keys.length, KEYS, 'every key')
  const args = await lab.sh('master3', "docker inspect -f '{{json .Args}}' etcd")
  t.match(args, /--initial-cluster-token=dr-b-/, 'fresh token')
  t.notMatch(args, /force-new-cluster/)
  t.match(await lab.sh('master3', 'ls -d /var/lib/etcd.dr-replaced-* /var/lib/etcd.dr-before-failover-*'), /dr-replaced-[\s\S]*dr-before-failover-|dr-before-failover-[\s\S]*dr-replaced-/, 'old data kept twice')

  const again = await lab.dr(['failover', '--site', 'B', '--yes', '--json'])
  t.equal(again.code, 0, again.stderr)
  t.equal(again.json().status, 'nothing-to-do', 'a re-run (method taken from the decision) has nothing to do')
})
