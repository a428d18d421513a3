// The restore's state file is evidence: a damaged one stops the run naming it; a finished one says so.
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { readRestoreState, restoreStateProblem, stateFile, writeRestoreState } from '../../runbooks/backup-restore/state.ts'

const member = { host: 'master1', name: 'etcd-master1', peerUrl: 'https://10.0.0.1:2380', image: 'etcd:3.4', restartPolicy: { Name: 'always' } }
const good = { id: 'b1', token: 'dr-restore-x', startedAt: '2026-12-01T22:00:00Z', sha256: 'ab', members: [member] }

t.test('round trip, with the completed marker', async (t) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-restore-state-'))
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }))
  t.equal(readRestoreState(d, 'b1'), undefined)
  writeRestoreState(d, { ...good, completedAt: '2026-12-01T22:10:00Z' })
  t.equal(readRestoreState(d, 'b1')?.completedAt, '2026-12-01T22:10:00Z')
  t.equal((fs.statSync(stateFile(d, 'b1')).mode & 0o777).toString(8), '600')
})

t.test('damaged: an error naming the file', async (t) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-restore-state-'))
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }))
  fs.mkdirSync(path.join(d, 'restore'))
  fs.writeFileSync(stateFile(d, 'b1'), JSON.stringify(good).slice(0, 30))
  t.throws(() => readRestoreState(d, 'b1'), { code: 'restore.state-corrupt', exit: 'refused', message: new RegExp(stateFile(d, 'b1').replace(/[.]/g, '\\.')) })
})

t.test('restoreStateProblem names what is missing', async (t) => {
  t.equal(restoreStateProblem(good, 'b1'), undefined)
  t.match(restoreStateProblem(good, 'b2'), /for backup "b1"/)
  t.match(restoreStateProblem({ ...good, token: '' }, 'b1'), /"token"/)
  t.match(restoreStateProblem({ ...good, members: [] }, 'b1'), /members/)
  t.match(restoreStateProblem({ ...good, members: [{ host: 'm' }] }, 'b1'), /"name"/)
})
