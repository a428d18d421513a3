// A drill activity's runbook steps come from the journals its dr child wrote: the files new or changed while it
// ran, never the journal of the child before it (finished a moment earlier, inside any time window).
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Inventory } from '../../src/inventory/types.ts'
import { childSteps, journalFiles } from '../../src/drill/actions.ts'

const at = (ms: number) => new Date(Date.UTC(2026, 11, 2, 0, 0, 0) + ms).toISOString()
const lines = (runbook: string, step: string, from: number) =>
  [
    { time: at(from), event: 'plan', plan: { steps: [{ id: step, title: `${runbook}: ${step}` }] } },
    { time: at(from + 100), event: 'step-start', step },
    { time: at(from + 600), event: 'step-end', step, status: 'applied' },
  ].map((r) => JSON.stringify({ runId: 'r', ...r }) + '\n').join('')

t.test('only the journals written while the child ran, each step once', async (t) => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-child-steps-'))
  t.teardown(() => fs.rmSync(stateDir, { recursive: true, force: true }))
  const dir = path.join(stateDir, 'journal')
  fs.mkdirSync(dir)
  const inv = { stateDir } as unknown as Inventory
  const t0 = Date.parse(at(0))
  fs.writeFileSync(path.join(dir, 'a-failover.jsonl'), lines('failover', 'force-new-cluster', 1000))
  const before = journalFiles(inv)
  t.equal(childSteps(inv, before, t0), undefined, 'a child that wrote no journal has no steps (the previous one is not its)')
  fs.writeFileSync(path.join(dir, 'b-fence.jsonl'), lines('fence', 'fence-master1', 5000))
  t.same(childSteps(inv, before, t0), [{ id: 'fence-master1', title: 'fence: fence-master1', outcome: 'applied', start: 5100, durationMs: 500 }])
  // A resumed run appends to its journal: changed, so it counts.
  const again = journalFiles(inv)
  fs.appendFileSync(path.join(dir, 'a-failover.jsonl'), lines('failover', 'rejoin', 9000))
  fs.utimesSync(path.join(dir, 'a-failover.jsonl'), new Date(), new Date(Date.now() + 5000))
  t.same(childSteps(inv, again, t0)?.map((s) => s.id), ['force-new-cluster', 'rejoin'])
})
