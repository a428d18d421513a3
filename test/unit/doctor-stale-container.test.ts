import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { findStaleContainers, parseKubeletName, parseNameConflicts, parsePsRows } from '../../src/doctor/stale-container.ts'

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
