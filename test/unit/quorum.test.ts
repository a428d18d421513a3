import t from 'tap'
import { chooseSurvivor, quorumOf, quorumVerdict, type MemberView } from '../../src/cluster/quorum.ts'

const m = (host: string, site: string, reachable: boolean, applied?: number, quorumRead = false): MemberView => ({
  host, site, reachable, quorumRead, raftAppliedIndex: applied,
})

t.test('quorum size', async (t) => {
  t.same([1, 2, 3, 4, 5, 6].map(quorumOf), [1, 2, 2, 3, 3, 4])
})

t.test('site A with two of three members holds quorum; losing it loses the cluster', async (t) => {
  const v = quorumVerdict([m('master1', 'A', false), m('master2', 'A', false), m('master3', 'B', true, 10)], ['A', 'B'])
  t.equal(v.hasQuorum, false, 'no linearizable read succeeded')
  t.match(v.sites, [
    { site: 'A', members: 2, reachable: 0, holdsQuorum: true },
    { site: 'B', members: 1, reachable: 1, holdsQuorum: false },
  ])
})

t.test('quorum is decided by a read, not by how many look reachable', async (t) => {
  // An isolated member answers status (reachable) but its reads time out.
  t.equal(quorumVerdict([m('a', 'A', true, 5), m('b', 'A', false), m('c', 'B', false)]).hasQuorum, false)
  t.equal(quorumVerdict([m('a', 'A', true, 5, true), m('b', 'A', true), m('c', 'B', false)]).hasQuorum, true)
})

t.test('survivor: highest applied index in the site, ties to inventory order', async (t) => {
  const members = [m('master1', 'A', false), m('b1', 'B', true, 100), m('b2', 'B', true, 120), m('b3', 'B', true, 120), m('b4', 'B', false, 999)]
  const c = chooseSurvivor(members, 'B')
  t.equal(c.survivor?.host, 'b2')
  t.same(c.ranked.map((x) => x.host), ['b2', 'b3', 'b1'])
  t.match(c.reason, /highest applied index.*b2=120/)
  t.equal(chooseSurvivor(members, 'C').survivor, undefined)
  t.match(chooseSurvivor(members, 'C').reason, /no etcd member/)
  t.match(chooseSurvivor([m('x', 'B', false)], 'B').reason, /no etcd member of site B is reachable/)
})
