import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { findStaleContainers, inspectLine, parseKubeletName, parseNameConflicts, parsePsRows, shortLine, staleInspectFields } from '../../src/doctor/stale-container.ts'

const dir = path.join(import.meta.dirname, '../fixtures/kubelet-1.19')
const log = fs.readFileSync(path.join(dir, 'kubelet-conflict.log'), 'utf8')
const ps = parsePsRows(fs.readFileSync(path.join(dir, 'docker-ps-a.tsv'), 'utf8'))

t.test('the conflict is read from the journal, escaped or not', async (t) => {
  const c = parseNameConflicts(log)
  t.equal(c.length, 1, 'one wanted name, logged twice')
  t.equal(c[0].wanted, 'k8s_kube-apiserver_kube-apiserver-pi-master1_kube-system_1403dda53affdfee1130475a6d9609da_24')
  t.equal(c[0].holder, 'eced8537863007db9a915924785306b26238cabbd3feec0e5226e2ad0710807b')
  t.match(c[0].line, /kubelet\[1115805\]/)
  // The seed shows the line wrapped by the terminal.
  const wrapped = log.replace('is already in use by container \\"eced', 'is already in use by\ncontainer \\"eced')
  t.equal(parseNameConflicts(wrapped)[0]?.holder, c[0].holder)
})

t.test("kubelet's container names", async (t) => {
  t.same(parseKubeletName('k8s_POD_kube-apiserver-pi-master1_kube-system_1403dda53affdfee1130475a6d9609da_15'), { container: 'POD', pod: 'kube-apiserver-pi-master1_kube-system_1403dda53affdfee1130475a6d9609da', attempt: 15 })
  t.equal(parseKubeletName('etcd'), undefined)
})

t.test('only the exited containers of the conflicting pod are stale (seed 002 removed exactly these two)', async (t) => {
  const f = findStaleContainers(ps, log)
  t.equal(f.length, 1)
  t.equal(f[0].holder?.state, 'running', 'the holder of _24 runs: never removed')
  t.same(f[0].stale.map((r) => r.id.slice(0, 12)).sort(), ['46497b3b5724', '8470235abd66'])
  t.notOk(f[0].stale.some((r) => r.name.includes('etcd')), "another pod's exited container is left alone")
})

t.test('an exited holder is itself stale; no conflict in the log → nothing', async (t) => {
  const exitedHolder = ps.map((r) => (r.id.startsWith('eced') ? { ...r, state: 'exited', status: 'Exited (137) 2 hours ago' } : r))
  t.ok(findStaleContainers(exitedHolder, log)[0].stale.some((r) => r.id.startsWith('eced')))
  t.same(findStaleContainers(ps, log.split('\n').filter((l) => !l.includes('Conflict')).join('\n')), [])
})

t.test('the inspect fields that show a leftover: state, exit, times, and whether the kubelet lists it', async (t) => {
  const dir24 = path.join(import.meta.dirname, '../fixtures/docker-20.10.24')
  const list = staleInspectFields(JSON.parse(fs.readFileSync(path.join(dir24, 'inspect-stale-kube-apiserver.json'), 'utf8')))
  t.equal(list.length, 2)
  const holder = list.find((i) => i.name.endsWith('_1'))!
  const attempt0 = list.find((i) => i.name.endsWith('_0'))!
  t.equal(holder.status, 'exited')
  t.equal(holder.kubeletType, undefined, 'the leftover carries no io.kubernetes.docker.type label')
  t.equal(attempt0.kubeletType, 'container')
  t.equal(attempt0.restartCount, '0')
  t.match(inspectLine(holder), /^docker inspect [0-9a-f]{12}: Name=\/k8s_kube-apiserver_kube-apiserver-master1_kube-system_[0-9a-f]{32}_1 State\.Status=exited State\.ExitCode=\d+ State\.FinishedAt=20\d\d-/)
  t.match(inspectLine(holder), /Labels\[io\.kubernetes\.docker\.type\]=\(none/)
  t.match(inspectLine(attempt0), /Labels\[io\.kubernetes\.docker\.type\]=container Labels\[…restartCount\]=0$/)
})

t.test('a long kubelet line keeps its head and the whole Conflict sentence', async (t) => {
  const line = log.split('\n').find((l) => l.includes('Conflict'))!
  const long = line.replace('pod_workers.go', `${'x'.repeat(700)} pod_workers.go`)
  const s = shortLine(long)
  t.ok(s.length <= 610, `short enough (${s.length})`)
  t.match(s, /^Mar 22 21:05:33 pi-master1 kubelet/)
  t.match(s, /Conflict\. The container name \\"\/k8s_kube-apiserver_kube-apiserver-pi-master1_kube-system_1403dda53affdfee1130475a6d9609da_24\\" is already in use by container \\"eced8537863007db9a915924785306b26238cabbd3feec0e5226e2ad0710807b/)
  t.equal(shortLine('short'), 'short')
})

t.test('a conflict whose holder is gone is history: nothing to remove, even with exited attempts around', async (t) => {
  const gone = ps.filter((r) => !r.id.startsWith('eced'))
  t.same(findStaleContainers(gone, log), [], 'the exited _23 and the sandbox stay: no current conflict names them')
  // A new attempt now holding the wanted name (the kubelet moved on after a fix) is not the holder either.
  const moved = [...gone, { id: 'f'.repeat(64), name: 'k8s_kube-apiserver_kube-apiserver-pi-master1_kube-system_1403dda53affdfee1130475a6d9609da_24', state: 'created', status: 'Created' }]
  t.same(findStaleContainers(moved, log), [])
})
