// The etcd client layer against a real three-member etcd with TLS on loopback: status per member, the quorum
// verdict by linearizable read, bounded time for dead members, and a snapshot from a member without quorum.
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { memberInventory, startEtcd } from '../helpers/etcd.ts'
import { probeCluster } from '../../src/etcd/status.ts'
import { connectMember, snapshotTarget } from '../../src/etcd/client.ts'
import { keyCount, snapshotToFile, waitWritable } from '../../src/etcd/ops.ts'
import { chooseSurvivor } from '../../src/cluster/quorum.ts'

t.test('status, quorum and snapshot on a real TLS cluster', async (t) => {
  const etcd = await startEtcd({ members: 3, tls: true })
  t.teardown(() => etcd.stop())
  // Three "hosts" on one machine: each host's transport forwards etcd's client port to its own member's port.
  const { inv, conns } = memberInventory(etcd, ['a1', 'a2', 'b1'], ['A', 'A', 'B'], 'x')

  const healthy = await probeCluster(conns, inv)
  t.equal(healthy.verdict.hasQuorum, true)
  t.same(healthy.members.map((m) => [m.host, m.reachable, m.quorumRead]), [['a1', true, true], ['a2', true, true], ['b1', true, true]])
  t.equal(healthy.memberList.length, 3)
  t.equal(healthy.members.filter((m) => m.isLeader).length, 1, 'exactly one leader')
  t.ok(healthy.members.every((m) => m.raftAppliedIndex! > 0 && m.version === '3.4.23'))

  const c = await connectMember(conns, inv, 'a1')
  for (let i = 0; i < 50; i++) await c.client.put(`/registry/test/k${i}`).value(`v${i}`)
  await c.close()

  // Site A is lost: its two members stop.
  await etcd.stopMember(0)
  await etcd.stopMember(1)
  const started = Date.now()
  const lost = await probeCluster(conns, inv, { timeoutMs: 2000 })
  const took = Date.now() - started
  t.ok(took < 15_000, `verdict within 15 s (took ${took} ms)`)
  t.equal(lost.verdict.hasQuorum, false, 'quorum lost')
  const b1 = lost.members.find((m) => m.host === 'b1')!
  t.equal(b1.reachable, true, 'the survivor still answers status')
  t.equal(b1.quorumRead, false, 'but cannot do a linearizable read')
  t.match(lost.members.find((m) => m.host === 'a1')!.error, /.+/, 'a dead member carries its error')
  t.equal(chooseSurvivor(lost.members, 'B').survivor?.host, 'b1')

  // The snapshot RPC and a serializable count work on the member without quorum.
  const s = await connectMember(conns, inv, 'b1')
  t.teardown(() => s.close())
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-snap-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const snap = await snapshotToFile(snapshotTarget(s), path.join(dir, 'b1.db'))
  t.ok(snap.size > 0)
  t.equal((fs.statSync(snap.path).mode & 0o777), 0o600, 'snapshot file is private')
  t.equal(snap.sha256, execFileSync('sha256sum', [snap.path]).toString().split(' ')[0])
  t.equal(await keyCount(s.client, { serializable: true }), 50)
  const st = JSON.parse(execFileSync('etcdctl', ['snapshot', 'status', snap.path, '-w', 'json'], { env: { ...process.env, ETCDCTL_API: '3' } }).toString())
  t.ok(st.totalKey >= 50, `etcdctl reads dr's snapshot (${st.totalKey} keys)`)
  await t.rejects(waitWritable(s.client, 'it', 2000, 'b1'), { code: 'etcd.not-writable' }, 'no writes without quorum')
})
