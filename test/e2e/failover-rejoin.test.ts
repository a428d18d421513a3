// Failover keeps the surviving site whole (issue 11.2): on a lab with three etcd members in site A and two in B,
// site A is lost; `dr failover --site B` rebuilds etcd from the better of master4/master5 and then rejoins the other
// one as a learner, so the cluster ends with both of site B's hosts started members and each apiserver of the site
// listing both — checked from outside dr. A second run changes nothing.
import t from 'tap'
import { TestLab } from '../helpers/lab.ts'

const lab = new TestLab('e2e-rejoin', ['--sites', 'A=3,B=2', '--workers', '0'])
const etcdctl = lab.etcdctl.bind(lab)
const etcdServers = async (node: string) => {
  const ep = JSON.parse(await lab.sh(node, "docker inspect -f '{{json .Config.Entrypoint}}' kube-apiserver")) as string[]
  return (ep.find((a) => a.startsWith('--etcd-servers='))?.slice('--etcd-servers='.length) ?? '').split(',').sort()
}

t.before(async () => {
  await lab.fresh()
  await etcdctl('master1', ['put', '/registry/e2e/before-loss', 'yes'])
})
t.teardown(() => lab.down())

t.test('failover --site B ends with every etcd host of site B a started member', async (t) => {
  await lab.stopSite('A')
  const plan = await lab.dr(['failover', '--site', 'B', '--plan', '--json'])
  t.equal(plan.code, 0, plan.stderr.slice(-2000))
  const p = plan.json()
  const survivor: string = /survivor: (master[45])/.exec(p.description.join('\n'))![1]
  const other = survivor === 'master4' ? 'master5' : 'master4'
  t.match(p.description.join('\n'), new RegExp(`then ${other} \\(site B\\) rejoin`), 'the plan says the other member rejoins')
  t.ok(p.steps.some((s: any) => s.id === `member-add-learner-${other}` && s.changes.length > 0), 'the plan lists the learner join as a change')

  const r = await lab.dr(['failover', '--site', 'B', '--yes', '--json'])
  t.equal(r.code, 0, r.stderr.slice(-3000))
  t.equal(r.json().status, 'succeeded')

  const members = JSON.parse(await etcdctl(survivor, ['member', 'list', '-w', 'json'])).members as Array<{ name: string; isLearner?: boolean }>
  t.same(members.map((m) => m.name).sort(), ['etcd-master4', 'etcd-master5'], 'both of site B’s hosts are members, nothing of site A')
  t.notOk(members.some((m) => m.isLearner), 'no learner left: the rejoined member was promoted')
  t.equal((await etcdctl(other, ['get', '/registry/e2e/before-loss', '--print-value-only'])).trim(), 'yes', `${other} serves the data written before the loss`)
  const want = ['master4', 'master5'].map((n) => `https://${lab.address(n)}:2379`).sort()
  for (const n of ['master4', 'master5']) t.same(await etcdServers(n), want, `kube-apiserver on ${n} lists both members`)

  const again = await lab.dr(['failover', '--site', 'B', '--yes', '--json'])
  t.equal(again.code, 0, again.stderr.slice(-2000))
  t.equal(again.json().status, 'nothing-to-do', 'a second run changes nothing')
})
