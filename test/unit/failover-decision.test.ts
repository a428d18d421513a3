// The failover decision file is evidence: a damaged or unreadable one stops the run with an error naming it.
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { decisionPath, decisionProblem, readDecision, writeDecision } from '../../src/cluster/decision.ts'

const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'dr-decision-'))
const good = { site: 'B', survivor: 'master3', method: 'force-new-cluster' as const, decidedAt: '2026-12-01T21:00:00Z', tag: '20261201T210000' }

t.test('no file: undefined; a written one reads back', async (t) => {
  const d = dir()
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }))
  t.equal(readDecision(d, 'B'), undefined)
  writeDecision(d, good)
  t.same(readDecision(d, 'B'), good)
})

for (const [what, text] of [
  ['a truncated line of JSON', JSON.stringify(good).slice(0, 40)],
  ['an empty file', ''],
  ['JSON without a survivor', JSON.stringify({ ...good, survivor: undefined })],
  ['another site', JSON.stringify({ ...good, site: 'A' })],
  ['an unknown method', JSON.stringify({ ...good, method: 'magic' })],
] as const) {
  t.test(`${what}: an error naming the file`, async (t) => {
    const d = dir()
    t.teardown(() => fs.rmSync(d, { recursive: true, force: true }))
    fs.mkdirSync(path.dirname(decisionPath(d, 'B')), { recursive: true })
    fs.writeFileSync(decisionPath(d, 'B'), text)
    t.throws(() => readDecision(d, 'B'), { code: 'failover.decision-corrupt', exit: 'refused', message: new RegExp(decisionPath(d, 'B').replace(/[.]/g, '\\.')) })
  })
}

t.test('an unreadable path (a directory) is an error, not "no decision"', async (t) => {
  const d = dir()
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }))
  fs.mkdirSync(decisionPath(d, 'B'), { recursive: true })
  t.throws(() => readDecision(d, 'B'), { code: 'failover.decision-corrupt' })
})

t.test('decisionProblem is pure and names the field', async (t) => {
  t.equal(decisionProblem(good, 'B'), undefined)
  t.match(decisionProblem({ ...good, tag: 3 }, 'B'), /"tag"/)
  t.match(decisionProblem({ ...good, method: 'restore' }, 'B'), /token/)
  t.match(decisionProblem([], 'B'), /not a JSON object/)
})
