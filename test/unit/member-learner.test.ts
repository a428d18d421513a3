import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { caughtUp, joinInitialCluster, removeVerdict, type MemberHealth } from '../../src/etcd/learner.ts'
import { joinState } from '../../src/etcd/membership.ts'
import { containerForHost, substituteIdentity } from '../../runbooks/member/template.ts'
import type { ContainerInspect } from '../../src/container/inspect.ts'

const peer = (id: string, name: string, ip: string, isLearner = false) => ({ ID: id, name, peerURLs: [`https://${ip}:2380`], isLearner })

t.test('--initial-cluster for a joining member: every listed member by name, itself last', async (t) => {
  const members = [peer('1', 'etcd-master3', '10.0.0.3'), peer('2', 'etcd-master4', '10.0.0.4')]
  t.equal(
    joinInitialCluster(members, { name: 'etcd-master1', peerURL: 'https://10.0.0.1:2380' }),
    'etcd-master3=https://10.0.0.3:2380,etcd-master4=https://10.0.0.4:2380,etcd-master1=https://10.0.0.1:2380',
  )
  // Already added as a learner (not started: no name): listed once, under its own name.
  const added = [...members, peer('9', '', '10.0.0.1', true)]
  t.equal(joinInitialCluster(added, { name: 'etcd-master1', peerURL: 'https://10.0.0.1:2380' }).split(',').length, 3)
  t.match(joinInitialCluster(added, { name: 'etcd-master1', peerURL: 'https://10.0.0.1:2380' }), /etcd-master1=https:\/\/10\.0\.0\.1:2380$/)
  // A member with two peer URLs appears twice under one name.
  const two = [{ ID: '1', name: 'a', peerURLs: ['https://10.0.0.3:2380', 'https://10.1.0.3:2380'] }]
  t.equal(joinInitialCluster(two, { name: 'b', peerURL: 'https://10.0.0.1:2380' }), 'a=https://10.0.0.3:2380,a=https://10.1.0.3:2380,b=https://10.0.0.1:2380')
  // Another member that has never started cannot be named, and would be a second unhealthy member.
  t.throws(() => joinInitialCluster([...members, peer('7', '', '10.0.0.5', true)], { name: 'etcd-master1', peerURL: 'https://10.0.0.1:2380' }), { code: 'member.other-unstarted' })
})

t.test('caught up: applied index within the allowed lag of the leader', async (t) => {
  t.equal(caughtUp(1000, 1000), true)
  t.equal(caughtUp(950, 1000), true)
  t.equal(caughtUp(899, 1000), false)
  t.equal(caughtUp(0, 50), false, 'a learner that has applied nothing has not caught up')
  t.equal(caughtUp(95, 100, 10), true)
  t.equal(caughtUp(89, 100, 10), false)
})

const h = (ID: string, healthy: boolean, isLearner = false): MemberHealth => ({ ID, name: `m${ID}`, healthy, isLearner })

t.test('removal keeps quorum or is refused', async (t) => {
  t.match(removeVerdict([h('1', true), h('2', true), h('3', true)], '3'), { ok: true, remaining: 2, quorum: 2, healthyAfter: 2 })
  // A dead member can go when the rest still has quorum (seed 004's replace).
  t.match(removeVerdict([h('1', false), h('2', true), h('3', true)], '1'), { ok: true, remaining: 2, healthyAfter: 2 })
  // Five members, two down: removing a healthy one leaves four that need three healthy, and only two are.
  const five = [h('1', true), h('2', false), h('3', false), h('4', true), h('5', true)]
  const v = removeVerdict(five, '4')
  t.equal(v.ok, false)
  t.match(!v.ok && v.reason, /4 members left would need 3 healthy .* only 2/)
  // …while removing one of the down members is fine: four left need three healthy, and m1, m4, m5 are.
  t.match(removeVerdict(five, '2'), { ok: true, remaining: 4, quorum: 3, healthyAfter: 3 })
})

t.test('removal: the only healthy member, the last member, learners', async (t) => {
  t.match(removeVerdict([h('1', true), h('2', false), h('3', false)], '1'), { ok: false, reason: /only healthy member/ })
  t.match(removeVerdict([h('1', true)], '1'), { ok: false, reason: /only voting member/ })
  t.match(removeVerdict([h('1', true), h('2', false, true)], '2'), { ok: true }, 'a learner never counts toward quorum')
  t.match(removeVerdict([h('1', true)], '9'), { ok: false, reason: /not listed/ })
})

t.test('join state: by the cluster, not by files', async (t) => {
  const m = { via: 'master3', clusterId: '77', appliedIndex: 10, members: [peer('1', 'etcd-master3', '10.0.0.3'), peer('2', '', '10.0.0.1', true)] }
  t.equal(joinState(m, '10.0.0.9', { host: 'x', answers: false }), 'absent')
  t.equal(joinState(m, '10.0.0.1', { host: 'master1', answers: false }), 'listed-not-running')
  t.equal(joinState(m, '10.0.0.3', { host: 'master3', answers: true, memberId: '1', clusterId: '77' }), 'voter')
  t.equal(joinState(m, '10.0.0.3', { host: 'master3', answers: true, memberId: '1', clusterId: '78' }), 'listed-not-running', 'an old cluster answering is not joined')
  const started = { ...m, members: [m.members[0], peer('2', 'etcd-master1', '10.0.0.1', true)] }
  t.equal(joinState(started, '10.0.0.1', { host: 'master1', answers: true, memberId: '2', clusterId: '77' }), 'learner')
})

t.test("a member's container as the template for another host", async (t) => {
  const src = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '../fixtures/docker-20.10.24/lab/inspect-etcd-master4.json'), 'utf8')) as ContainerInspect
  const from = { name: 'master4', address: '172.30.162.14' }
  const to = { name: 'master1', address: '172.30.162.11' }
  const c = containerForHost(src, from, to)
  const args = c.Args!.join(' ')
  t.match(args, /--name=etcd-master1 /)
  t.match(args, /--initial-advertise-peer-urls=https:\/\/172\.30\.162\.11:2380/)
  t.match(args, /--advertise-client-urls=https:\/\/172\.30\.162\.11:2379/)
  t.match(args, /--cert-file=\/etc\/kubernetes\/ssl\/kube-etcd-172-30-162-11\.pem/)
  t.match(args, /--peer-key-file=\/etc\/kubernetes\/ssl\/kube-etcd-172-30-162-11-key\.pem/)
  t.notMatch(args, /172\.30\.162\.14|172-30-162-14|master4/, 'nothing of master4 left')
  t.match(args, /etcd-master1=https:\/\/172\.30\.162\.11:2380,etcd-master2=https:\/\/172\.30\.162\.12:2380/, 'other members in --initial-cluster untouched')
  t.match(c.Config.Env!.join(' '), /ETCDCTL_CERT=\/etc\/kubernetes\/ssl\/kube-etcd-172-30-162-11\.pem/)
  t.equal(c.Config.Hostname, undefined, 'no hostname: host networking gives the host its own')
  t.same(c.HostConfig.RestartPolicy, { Name: 'no', MaximumRetryCount: 0 }, 'created without restarts until dr starts it as a learner')
  t.same(c.HostConfig.Binds, src.HostConfig.Binds)
  t.equal(src.Config.Hostname, 'master4', 'the source is not changed')
})

t.test('identity substitution does not touch longer addresses or names', async (t) => {
  const from = { name: 'master1', address: '10.0.0.1' }
  const to = { name: 'master9', address: '10.0.0.9' }
  t.equal(substituteIdentity('https://10.0.0.1:2380,https://10.0.0.11:2380', from, to), 'https://10.0.0.9:2380,https://10.0.0.11:2380')
  t.equal(substituteIdentity('kube-etcd-10-0-0-1.pem kube-etcd-10-0-0-12.pem', from, to), 'kube-etcd-10-0-0-9.pem kube-etcd-10-0-0-12.pem')
  t.equal(substituteIdentity('--name=etcd-master1 master10', from, to), '--name=etcd-master9 master10')
})
