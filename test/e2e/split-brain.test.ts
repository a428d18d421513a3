// Why fencing is part of failover, shown rather than told: after a failover to site B, site A comes back cut
// off from B. Unfenced, its two old members still hold a majority of the old three-member membership, elect a
// leader and serve stale data — two clusters. `dr status` must see it, and `dr fence` must end it.
import t from 'tap'
import { TestLab } from '../helpers/lab.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const lab = new TestLab('e2e-split')
const dr = lab.dr.bind(lab)
const nodeSh = lab.sh.bind(lab)
const etcdctl = lab.etcdctl.bind(lab)

t.before(() => lab.fresh())
t.teardown(() => lab.down())

t.test('an unfenced site A cut off from B forms a second quorum; dr status sees it; dr fence ends it', async (t) => {
  await etcdctl('master1', ['put', '/registry/split/before', 'old'])
  await lab.stopSite('A')
  const f = await dr(['failover', '--site', 'B', '--yes'])
  t.equal(f.code, 0, f.stderr)
  await etcdctl('master3', ['put', '/registry/split/after-failover', 'new'])

  // Site A comes back already cut off from B (the partition is recorded on its stopped nodes, applied at boot).
  await lab.partition('A', 'B')
  await lab.startSite('A')

  // Site A's old members find each other and elect a leader (election timeout 5 s).
  let leader = ''
  for (let i = 0; i < 30 && !leader; i++) {
    await sleep(2000)
    const out = await nodeSh('master1', "docker exec etcd etcdctl endpoint status --cluster -w json 2>/dev/null || true")
    try {
      const rows = JSON.parse(out) as Array<{ Status: { leader: string; header: { member_id: string } } }>
      if (rows.some((r) => r.Status.leader !== '0' && r.Status.leader !== undefined)) leader = String(rows[0].Status.leader)
    } catch {}
  }
  t.ok(leader, 'site A elected a leader of its own')
  const stale = await etcdctl('master1', ['get', '/registry/split/', '--prefix', '--keys-only'])
  t.match(stale, /before/, 'site A serves the old data…')
  t.notMatch(stale, /after-failover/, '…without what site B wrote since the failover: stale')
  await etcdctl('master1', ['put', '/registry/split/written-in-A', 'diverged'])

  const st = await dr(['status', '--json'])
  t.equal(st.code, 5, 'dr status exits 5')
  t.ok(st.json().splitBrain, `dr status reports split brain: ${JSON.stringify(st.json().splitBrain)}`)
  t.match(st.json().fences[0].summary, /NOT FENCED/)

  const fence = await dr(['fence', '--site', 'A', '--yes'])
  t.equal(fence.code, 0, fence.stderr)
  const after = await dr(['status', '--json'])
  t.equal(after.code, 0, 'one cluster again')
  t.notOk(after.json().splitBrain)
  t.equal((await etcdctl('master3', ['get', '/registry/split/written-in-A', '--keys-only'])).trim(), '', "site A's divergent write never reached site B")
})
