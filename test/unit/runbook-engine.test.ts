// The engine over a tiny in-memory world: steps converge, re-runs are empty, failures are journalled,
// the lock is exclusive, and nothing changes without confirmation.
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { apply, plan } from '../../src/runbook/engine.ts'
import { readJournal } from '../../src/runbook/journal.ts'
import { acquireLock } from '../../src/runbook/lock.ts'
import { renderPlan } from '../../src/runbook/render.ts'
import { Output } from '../../src/core/output.ts'
import { DrError } from '../../src/core/error.ts'
import type { Runbook, Step } from '../../src/runbook/types.ts'
import type { Inventory } from '../../src/inventory/types.ts'
import { PassThrough } from 'node:stream'

type World = { a: boolean; b: boolean; failB?: boolean }

function flagStep(key: 'a' | 'b', world: World, destructive = false): Step<World> {
  return {
    id: `set-${key}`,
    title: `Set ${key}`,
    destructive,
    async check() {
      return world[key] ? [] : [{ summary: `set ${key}`, destructive }]
    },
    async apply() {
      if (key === 'b' && world.failB) throw new DrError({ code: 'test.fail', message: 'b refused' })
      world[key] = true
    },
    async verify() {
      if (!world[key]) throw new DrError({ code: 'test.unverified', message: `${key} not set` })
      return `${key} is set`
    },
  }
}

function runbook(world: World): Runbook<World> {
  return {
    name: 'flags',
    title: 'set the flags',
    async assess() {
      return world
    },
    describe: () => ['two flags'],
    steps: (w) => [flagStep('a', w), flagStep('b', w, true)],
  }
}

function setup(t: { teardown(fn: () => void): void }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-engine-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const inv = { cluster: 'unit', stateDir: dir } as unknown as Inventory
  const out = new Output({ json: true, verbose: false, stdout: new PassThrough(), stderr: new PassThrough() })
  return { dir, base: { inv, conns: { get: async () => { throw new Error('no hosts here') } }, out, options: {} } }
}

t.test('plan changes nothing and lists destructive steps', async (t) => {
  const { base } = setup(t)
  const world: World = { a: false, b: false }
  const p = await plan(runbook(world), base)
  t.same(world, { a: false, b: false })
  t.equal(p.empty, false)
  t.same(p.steps.map((s) => [s.id, s.destructive, s.changes.length]), [['set-a', false, 1], ['set-b', true, 1]])
  t.match(renderPlan(p), /2\. Set b.*\[DESTRUCTIVE\]/)
})

t.test('apply converges, journals each step, and a re-run has nothing to do', async (t) => {
  const { base } = setup(t)
  const world: World = { a: false, b: false }
  const r = await apply(runbook(world), { ...base, yes: true })
  t.equal(r.status, 'succeeded')
  t.same(world, { a: true, b: true })
  const recs = readJournal(r.journalPath)
  t.same(recs.map((x) => x.event), ['run-start', 'plan', 'step-start', 'step-end', 'step-start', 'step-end', 'run-end'])
  t.equal(recs[3].evidence, 'a is set')
  const again = await apply(runbook(world), { ...base, yes: true })
  t.equal(again.status, 'nothing-to-do')
  t.equal(again.plan.empty, true)
})

t.test('a half-done world resumes where it stopped', async (t) => {
  const { base } = setup(t)
  const world: World = { a: true, b: false }
  const r = await apply(runbook(world), { ...base, yes: true })
  t.same(r.steps.map((s) => s.outcome), ['nothing-to-do', 'done'])
})

t.test('a failing step is journalled with its error and stops the run', async (t) => {
  const { base } = setup(t)
  const world: World = { a: false, b: false, failB: true }
  await t.rejects(apply(runbook(world), { ...base, yes: true }), { code: 'test.fail' })
  const file = fs.readdirSync(path.join(base.inv.stateDir, 'journal'))[0]
  const recs = readJournal(path.join(base.inv.stateDir, 'journal', file))
  const end = recs.find((x) => x.event === 'step-end' && x.step === 'set-b')!
  t.equal(end.status, 'failed')
  t.match(end.error, { code: 'test.fail', message: 'b refused' })
  t.match(recs.at(-1), { event: 'run-end', status: 'failed' })
})

t.test('without --yes and without a confirmation nothing changes (exit: refused)', async (t) => {
  const { base } = setup(t)
  const world: World = { a: false, b: false }
  await t.rejects(apply(runbook(world), base), { code: 'runbook.not-confirmed', exit: 'refused' })
  await t.rejects(apply(runbook(world), { ...base, confirm: async () => false }), { code: 'runbook.not-confirmed' })
  t.same(world, { a: false, b: false })
  const r = await apply(runbook(world), { ...base, confirm: async () => true })
  t.equal(r.status, 'succeeded')
})

t.test('the lock is exclusive, names its owner, and a dead owner\'s lock is broken', async (t) => {
  const { dir, base } = setup(t)
  const release = acquireLock(dir, 'other')
  await t.rejects(apply(runbook({ a: false, b: false }), { ...base, yes: true }), { code: 'runbook.locked', exit: 'refused', message: /running other/ })
  release()
  fs.writeFileSync(path.join(dir, 'lock'), JSON.stringify({ user: 'x', hostname: os.hostname(), pid: 999999, runbook: 'old', since: 'then' }))
  const r = await apply(runbook({ a: false, b: false }), { ...base, yes: true })
  t.equal(r.status, 'succeeded', 'stale lock of a dead pid on this machine is broken')
  t.notOk(fs.existsSync(path.join(dir, 'lock')), 'lock released')
})
