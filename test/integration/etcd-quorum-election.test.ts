// A quorum read right after the leader died (`dr member replace` on a host that has just gone): the members left
// have quorum but no leader until their election timeout runs out (RKE's etcd: 5 s, randomised up to 10 s), and their
// quorum reads time out meanwhile. dr waits through the election instead of calling the cluster quorum-less: a CI run
// of member.test.ts failed so, its two 5 s attempts spent before the election ended. A cluster that has really lost
// quorum is still named so, with every member's reason.
import t from 'tap'
import net from 'node:net'
import path from 'node:path'
import { startEtcd } from '../helpers/etcd.ts'
import { LocalTransport, listenTunnel } from '../../src/transport/local.ts'
import { connectWithQuorum, readMembership } from '../../src/etcd/membership.ts'
import { connectMember } from '../../src/etcd/client.ts'
import type { Inventory, Host } from '../../src/inventory/types.ts'
import type { DrError } from '../../src/core/error.ts'

t.setTimeout(180_000)

class MemberHost extends LocalTransport {
  constructor(name: string, private port: number) { super(name) }
  override forward() { return listenTunnel(() => net.connect(this.port, '127.0.0.1')) }
}

// An election timeout long enough that the two attempts of 2 s each (the test's timeoutMs) end before a new leader.
const ELECTION_MS = 6000
const etcd = await startEtcd({ members: 3, tls: true, electionTimeoutMs: ELECTION_MS })
t.teardown(() => etcd.stop())
const pki = path.dirname(etcd.tls!.caFile)
const names = ['m1', 'm2', 'm3']
const hosts: Record<string, Host> = {}
for (const h of names) hosts[h] = { name: h, site: 'A', address: '127.0.0.1', transport: 'local', roles: ['etcd'], labels: {}, hostKeys: [], ssh: {} as Host['ssh'] }
const inv = {
  cluster: 'it', file: 'quorum-election', flavor: 'rke', hosts,
  sites: { A: { name: 'A', hosts: names } },
  etcd: { clientPort: 2379, peerPort: 2380, caFile: etcd.tls!.caFile, certFile: path.join(pki, 'client.pem'), keyFile: path.join(pki, 'client-key.pem'), dataDir: '/nonexistent', container: 'etcd' },
} as unknown as Inventory
const ports = etcd.endpoints.map((e) => Number(new URL(e).port))
const conns = { get: async (h: string) => new MemberHost(h, ports[names.indexOf(h)]) }

async function leader(): Promise<number> {
  for (let i = 0; i < names.length; i++) {
    const c = await connectMember(conns, inv, names[i])
    try {
      const s = await c.client.maintenance.status()
      if (s.leader === s.header.member_id) return i
    } finally {
      await c.close()
    }
  }
  throw new Error('no leader')
}

t.test('the leader just died: the quorum read waits for the election', async (t) => {
  const dead = await leader()
  const left = names.filter((_, i) => i !== dead)
  await etcd.stopMember(dead, 'SIGKILL') // killed: a leader stopped by SIGTERM hands its leadership over first
  const started = Date.now()
  const m = await readMembership(conns, inv, left, { timeoutMs: 2000 })
  const took = Date.now() - started
  t.ok(left.includes(m.via), `read through ${m.via}, a member left`)
  t.equal(m.members.length, 3, 'the dead member is still listed')
  t.ok(took > 4000, `it took the election (${took} ms), more than the two attempts the old code gave up after`)
  await etcd.startMember(dead)
})

t.test('quorum really lost: named so, with each member’s reason, within the election budget', async (t) => {
  const m = await readMembership(conns, inv, names, { timeoutMs: 2000 }) // healthy again
  t.equal(m.members.length, 3)
  await etcd.stopMember(0)
  await etcd.stopMember(1)
  t.teardown(async () => {
    await etcd.startMember(0)
    await etcd.startMember(1)
  })
  const started = Date.now()
  const e = (await connectWithQuorum(conns, inv, names, { timeoutMs: 1000, electionBudgetMs: 5000 }).then(() => undefined, (x) => x)) as DrError | undefined
  t.equal(e?.code, 'member.no-quorum')
  t.equal(e?.evidence?.length, 3, 'one reason per member')
  t.match(e?.evidence?.find((l) => l.startsWith('m3:')), /^m3: .*(deadline|timed out)/i, 'the live member: its quorum read timed out')
  const took = Date.now() - started
  t.ok(took >= 5000 && took < 20_000, `gave up after the budget (${took} ms)`)
})
