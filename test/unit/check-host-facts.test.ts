import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { parseFacts } from '../../src/check/host-facts.ts'
import { hostChecks, median } from '../../src/check/host-checks.ts'
import { loadInventory } from '../../src/inventory/load.ts'

// Recorded on a lab node that had just booted: docker answers, etcd not listening yet, no containers yet.
const raw = fs.readFileSync(path.join(import.meta.dirname, '../fixtures/check/facts-master1.txt'), 'utf8')

t.test('facts from the recorded script output', async (t) => {
  const f = parseFacts(`@@time\n1764628000123456789\n${raw}`, 1764628000000, 1764628000200)
  t.equal(f.dockerVersion, '20.10.24+dfsg1')
  t.match(f.df, { filesystem: 'overlay', sizeBytes: 270553174016, availBytes: 76436611072, usedPercent: 30, mount: '/' })
  t.same(f.swap, [])
  t.same(f.listening, [22, 33851])
  t.same(f.containers, [])
  t.equal(f.leaderChanges, undefined, 'curl could not connect: no counter')
  t.equal(f.clockMs, 1764628000123)
})

t.test('checks over them: the ports and containers an etcd+controlplane host needs are FAIL', async (t) => {
  const inv = await loadInventory(path.join(import.meta.dirname, '../fixtures/inventory/good/full.yaml'), { warn: () => {} })
  const h = Object.values(inv.hosts).find((x) => x.roles.includes('etcd') && x.roles.includes('controlplane'))!
  const f = parseFacts(`@@time\n1764628000123456789\n${raw}`, 1764628000000, 1764628000200)
  const rs = hostChecks(inv, h, f, 23)
  const by = (c: string) => rs.filter((r) => r.check === c)
  t.equal(by('docker-running')[0].status, 'ok')
  t.equal(by('swap')[0].status, 'ok')
  t.equal(by('ports')[0].status, 'fail')
  t.match(by('ports')[0].message, new RegExp(`${inv.etcd.clientPort}, ${inv.etcd.peerPort}, ${inv.kubernetes.apiserverPort}`), "the inventory's ports")
  t.ok(by('container').every((r) => r.status === 'fail'), 'no etcd, kube-apiserver, kubelet')
  t.equal(by('clock-skew')[0].status, 'ok', '100 ms off the median, inside the ±100 ms the round trip allows')
  const far = hostChecks(inv, h, f, -3000)
  t.equal(far.find((r) => r.check === 'clock-skew')!.status, 'fail', '3 s off the median')
  t.equal(median([5, 1, 3]), 3)
})
