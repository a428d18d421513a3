// A plan shows what the apply will do: when an earlier step changes what a later step's check reads (a copy aside
// stops etcd; then the re-creation has work), the later check learns it from ctx.willChange, and the steps a plan
// lists as changing are exactly the steps the apply changes.
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { PassThrough } from 'node:stream'
import { apply, plan } from '../../src/runbook/engine.ts'
import { Output } from '../../src/core/output.ts'
import type { Runbook, Step, StepContext } from '../../src/runbook/types.ts'
import type { Inventory } from '../../src/inventory/types.ts'

/** A tiny etcd: running and healthy until the copy aside stops it; the re-creation starts it again. */
type World = { running: boolean; copied: boolean; recreated: number; useWillChange: boolean }

function steps(w: World): Step<World>[] {
  const copy: Step<World> = {
    id: 'copy-aside',
    title: 'Stop etcd and copy its data aside',
    destructive: true,
    async check() {
      return w.copied ? [] : [{ summary: 'stop etcd, copy the data dir' }]
    },
    async apply() {
      w.running = false
      w.copied = true
    },
    async verify() {},
  }
  const recreate: Step<World> = {
    id: 'recreate',
    title: 'Re-create etcd',
    async check(ctx: StepContext<World>) {
      const stoppedByEarlier = w.useWillChange && !!ctx.willChange?.has('copy-aside')
      return w.running && !stoppedByEarlier ? [] : [{ summary: 're-create etcd' }]
    },
    async apply() {
      w.running = true
      w.recreated++
    },
    async verify() {
      if (!w.running) throw new Error('not running')
    },
  }
  return [copy, recreate]
}

const runbook = (w: World): Runbook<World> => ({ name: 'ahead', title: 'plan ahead', assess: async () => w, describe: () => [], steps: () => steps(w) })

function base(t: { teardown(fn: () => void): void }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-will-change-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const inv = { cluster: 'unit', stateDir: dir } as unknown as Inventory
  const out = new Output({ json: true, verbose: false, stdout: new PassThrough(), stderr: new PassThrough() })
  return { inv, conns: { get: async () => { throw new Error('no hosts here') } }, out, options: {} }
}

const changing = (p: { steps: Array<{ id: string; changes: unknown[] }> }) => p.steps.filter((s) => s.changes.length > 0).map((s) => s.id)

t.test('a check that reads only the world plans "nothing to do" for a step the apply then does', async (t) => {
  const w: World = { running: true, copied: false, recreated: 0, useWillChange: false }
  const p = await plan(runbook(w), base(t))
  const r = await apply(runbook({ ...w }), { ...base(t), yes: true })
  t.same(changing(p), ['copy-aside'], 'the plan misses the re-creation')
  t.same(r.steps.filter((s) => s.outcome === 'done').map((s) => s.id), ['copy-aside', 'recreate'], 'the apply does it')
})

t.test('with willChange, plan and apply agree on which steps change the cluster', async (t) => {
  const w: World = { running: true, copied: false, recreated: 0, useWillChange: true }
  const p = await plan(runbook(w), base(t))
  t.same(w, { running: true, copied: false, recreated: 0, useWillChange: true }, 'the plan changed nothing')
  t.same(changing(p), ['copy-aside', 'recreate'])
  const r = await apply(runbook(w), { ...base(t), yes: true })
  t.same(r.steps.filter((s) => s.outcome === 'done').map((s) => s.id), changing(p))
  t.equal(w.recreated, 1)
  const again = await plan(runbook(w), base(t))
  t.equal(again.empty, true, 'a finished run plans nothing')
})

t.test('verify and apply never see willChange', async (t) => {
  const seen: Array<string | undefined> = []
  const w: World = { running: true, copied: false, recreated: 0, useWillChange: true }
  const rb = runbook(w)
  const wrap = (s: Step<World>): Step<World> => ({
    ...s,
    apply: async (ctx, c) => (seen.push(`apply:${ctx.willChange ? 'set' : 'unset'}`), s.apply(ctx, c)),
    verify: async (ctx) => (seen.push(`verify:${ctx.willChange ? 'set' : 'unset'}`), s.verify(ctx)),
  })
  await apply({ ...rb, steps: () => steps(w).map(wrap) }, { ...base(t), yes: true })
  t.same(seen, ['apply:unset', 'verify:unset', 'apply:unset', 'verify:unset'])
})
