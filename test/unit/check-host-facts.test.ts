import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { clockReadingMs, factsScript, parseFacts } from '../../src/check/host-facts.ts'
import { hostChecks, median } from '../../src/check/host-checks.ts'
import { loadInventory } from '../../src/inventory/load.ts'

// Recorded on a lab node that had just booted: docker answers, etcd not listening yet, no containers yet.
const raw = fs.readFileSync(path.join(import.meta.dirname, '../fixtures/check/facts-master1.txt'), 'utf8')

t.test('facts from the recorded script output', async (t) => {
  const f = parseFacts(`@@time\n1764628000123456789\n${raw}`, 1764628000000, 1764628000200)
  t.equal(f.runtimeVersion, '20.10.24+dfsg1')
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

t.test("one command measures the clock: the script's own run time is taken off the round trip", async (t) => {
  // Sent at B, answered at B+400 ms; the host read its clock first at B+100 and last 300 ms later.
  const B = 1764628000000
  const ns = (ms: number) => `${BigInt(ms) * 1_000_000n}`
  const withEnd = (endMs: number) => `@@time\n${ns(B + 100)}\n${raw.replace('@@end', `@@timeend\n${ns(endMs)}\n@@end`)}`
  const f = parseFacts(withEnd(B + 400), B, B + 400)
  t.equal(f.clockMs, B + 100)
  t.equal(f.localBeforeMs, B)
  t.equal(f.localAfterMs, B + 100, 'the host read its clock between B and B+400 − 300 ms')
  t.equal(parseFacts(`@@time\n${ns(B + 100)}\n${raw}`, B, B + 400).localAfterMs, B + 400, 'without the second reading the whole round trip is the uncertainty')
  t.equal(parseFacts(withEnd(B), B, B + 400).localAfterMs, B + 400, 'a clock that stepped back during the script changes nothing')
  t.equal(parseFacts(withEnd(B + 900), B, B + 400).localAfterMs, B, 'never before the command was sent')
})

t.test('the script reads the clock first and last, one command for everything', async (t) => {
  const s = factsScript({ dataDir: '/var/lib/etcd' })
  const lines = s.split('\n')
  t.same(lines.slice(0, 2), ["echo '@@time'", 'echo "${EPOCHREALTIME:-$(date +%s.%N)}"'])
  t.same(lines.slice(-3), ["echo '@@timeend'", 'echo "${EPOCHREALTIME:-$(date +%s.%N)}"', "echo '@@end'"])
})

t.test('clock readings: $EPOCHREALTIME (either decimal mark), date +%s.%N, nanoseconds', async (t) => {
  t.equal(clockReadingMs('1796174450.513068'), 1796174450513)
  t.equal(clockReadingMs('1796174450,5'), 1796174450500, "a locale's decimal comma")
  t.equal(clockReadingMs('1796174450.513068987'), 1796174450513)
  t.equal(clockReadingMs('1796174450513068987'), 1796174450513)
  t.equal(clockReadingMs('date: invalid'), undefined)
  t.equal(clockReadingMs(undefined), undefined)
})

t.test('df and ss parsed from their own output (header, wrapped device name, ss and netstat columns)', async (t) => {
  const out = `@@df\nFilesystem 1024-blocks Used Available Capacity Mounted on\n/dev/mapper/vg0-a-very-long-logical-volume-name\n  270553174016 32507682816 76436611072      30% /var/lib/etcd\n@@listen\nLISTEN 0 4096 0.0.0.0:22 0.0.0.0:*\nLISTEN 0 4096 127.0.0.1:2379 0.0.0.0:*\ntcp6 0 0 :::6443 :::* LISTEN\n@@end\n`
  const f = parseFacts(out, 0, 1)
  t.match(f.df, { filesystem: '/dev/mapper/vg0-a-very-long-logical-volume-name', sizeBytes: 270553174016, availBytes: 76436611072, usedPercent: 30, mount: '/var/lib/etcd' })
  t.same(f.listening, [22, 2379, 6443])
})

t.test('a static pod with no running attempt: the container check shows its newest attempt and points at the kubelet', async (t) => {
  const inv = await loadInventory(path.join(import.meta.dirname, '../fixtures/inventory/good/full.yaml'), { warn: () => {} })
  const h = Object.values(inv.hosts).find((x) => x.roles.includes('etcd') && x.roles.includes('controlplane'))!
  const kubeadm = { ...inv, flavor: 'kubeadm' as const }
  const f = parseFacts(`@@time\n1764628000123456789\n${raw}`, 1764628000000, 1764628000200)
  // docker ps -a lists the newest first.
  f.containers = [
    { id: 'b'.repeat(64), name: 'k8s_kube-apiserver_kube-apiserver-m1_kube-system_u1_1', state: 'exited', status: 'Exited (1) 5 seconds ago', image: 'x' },
    { id: 'a'.repeat(64), name: 'k8s_kube-apiserver_kube-apiserver-m1_kube-system_u1_0', state: 'exited', status: 'Exited (0) 6 seconds ago', image: 'x' },
    { id: 'c'.repeat(64), name: 'k8s_etcd_etcd-m1_kube-system_u2_0', state: 'running', status: 'Up 2 minutes', image: 'x' },
  ]
  const rs = hostChecks(kubeadm, h, f, 23).filter((r) => r.check === 'container')
  t.same(rs.map((r) => r.status), ['ok', 'fail'], 'etcd ok, kube-apiserver failed; no kubelet container expected')
  t.match(rs[1].message, /^kube-apiserver is exited \(Exited \(1\) 5 seconds ago\): k8s_kube-apiserver_kube-apiserver-m1_kube-system_u1_1$/)
  t.match(rs[1].fix, /the kubelet starts the next attempt by itself; when it does not, its log says why/)
})

t.test("the host's own addresses (hostname -I), absent when it said nothing", async (t) => {
  t.same(parseFacts('@@addrs\n172.30.192.11 172.17.0.1 fd00::5 \n@@end\n', 0, 1).addresses, ['172.30.192.11', '172.17.0.1', 'fd00::5'])
  t.equal(parseFacts('@@addrs\n@@end\n', 0, 1).addresses, undefined)
  t.match(factsScript({ dataDir: '/var/lib/etcd' }), /@@addrs'\nhostname -I/)
})

// Recorded on a lab master running etcd and kube-apiserver as RKE containers: the script asked the Engine
// API on docker's socket with one curl (GET /version, GET /containers/json?all=1) instead of two docker CLI starts.
t.test("docker's Engine API answer: the engine's version and every container as `docker ps -a` lists them", async (t) => {
  const rec = fs.readFileSync(path.join(import.meta.dirname, '../fixtures/check/facts-master1-engine-api.txt'), 'utf8')
  const f = parseFacts(rec, 0, 1)
  t.equal(f.runtimeVersion, '20.10.24+dfsg1')
  t.equal(f.runtimeError, undefined)
  const listed = JSON.parse(rec.split('\n').find((l) => l.startsWith('[{"Id"'))!) as Array<{ Names: string[] }>
  t.equal(f.containers.length, listed.length)
  t.ok(f.containers.length >= 2, 'the master runs etcd and kube-apiserver')
  const api = f.containers.find((c) => c.name === 'kube-apiserver')!
  t.match(api, { state: 'running', status: /^Up /, image: /^dr-lab\/hyperkube:/ })
  t.match(api.id, /^[0-9a-f]{64}$/, 'the full id, as `docker ps --no-trunc` gives it')
  t.ok(f.containers.some((c) => c.name === 'etcd'))
  t.same(f.listening.includes(2379), true, 'the rest of the script is read as before')
})

t.test('no engine: the missing socket, or curl reaching none, is the evidence; a legacy link is not a second name', async (t) => {
  const none = parseFacts("@@docker\ndocker is not running here: no /var/run/docker.sock\n@@df\n@@end\n", 0, 1)
  t.equal(none.runtimeVersion, undefined)
  t.equal(none.runtimeError, 'docker is not running here: no /var/run/docker.sock')
  const refused = parseFacts("@@docker\n@@dockerapi\ncurl: (7) Failed to connect to docker port 80 after 0 ms: Couldn't connect to server\n@@end\n", 0, 1)
  t.match(refused.runtimeError, /^curl: \(7\) Failed to connect/)
  t.same(refused.containers, [])
  const linked = parseFacts(
    '@@docker\n@@dockerapi\n{"Version":"24.0.5"}\n[{"Id":"ab","Names":["/web/db","/db"],"State":"exited","Status":"Exited (0) 1 minute ago","Image":"postgres"}]\n@@end\n',
    0,
    1,
  )
  t.same(linked.containers, [{ id: 'ab', name: 'db', state: 'exited', status: 'Exited (0) 1 minute ago', image: 'postgres' }])
})

t.test("containerd (kind): `ctr version`'s Server block is the runtime's answer; without one, ctr's error is the evidence", async (t) => {
  const s = factsScript({ dataDir: '/var/lib/etcd', runtime: 'containerd' })
  t.match(s, /ctr --connect-timeout 3s version/)
  t.notMatch(s, /docker/, 'no docker on a containerd node')
  // Recorded on a lab kind node.
  const up = parseFacts('@@containerd\nClient:\n  Version:  1.6.20~ds1\n  Revision: 1.6.20~ds1-1+deb12u3\n  Go version: go1.19.8\n\nServer:\n  Version:  1.6.20~ds1\n  Revision: 1.6.20~ds1-1+deb12u3\n  UUID: 247d9459\n@@end\n', 0, 1)
  t.match(up, { runtime: 'containerd', runtimeVersion: '1.6.20~ds1', runtimeError: undefined })
  const down = parseFacts('@@containerd\nClient:\n  Version:  1.6.20~ds1\n  Revision: 1.6.20~ds1-1+deb12u3\n  Go version: go1.19.8\nctr: failed to dial "/run/containerd/containerd.sock": context deadline exceeded\n@@end\n', 0, 1)
  t.equal(down.runtimeVersion, undefined)
  t.equal(down.runtimeError, 'ctr: failed to dial "/run/containerd/containerd.sock": context deadline exceeded', 'the client block is not the error')
  t.equal(parseFacts('@@docker\n@@dockerapi\n{"Version":"24.0.5"}\n[]\n@@end\n', 0, 1).runtime, 'docker')
})
