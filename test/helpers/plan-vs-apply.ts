// "A plan shows what the apply will do": the ids of the steps a plan lists as changing the cluster, and the ids
// of the steps one or more applies then changed (read from their JSON reports or from the run journals).
import fs from 'node:fs'
import path from 'node:path'

type PlanJson = { steps: Array<{ id: string; changes: unknown[] }> }
type ReportJson = { steps: Array<{ id: string; outcome: string }> }

export const planned = (p: PlanJson) => p.steps.filter((s) => s.changes.length > 0).map((s) => s.id)

export const applied = (r: ReportJson) => r.steps.filter((s) => s.outcome === 'done').map((s) => s.id)

/**
 * Steps the runs of `runbook` in a state directory began to apply (a `step-start` is journalled only when the step's
 * check found work), in first order, no repeats. A run killed in the middle of a step journals its start and no end,
 * yet it changed the cluster: the next run may then find that step with nothing left to do.
 */
export function journalledDone(stateDir: string, runbook: string): string[] {
  const dir = path.join(stateDir, 'journal')
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(`-${runbook}.jsonl`)).sort() : []
  const done: string[] = []
  for (const f of files) {
    for (const line of fs.readFileSync(path.join(dir, f), 'utf8').split('\n')) {
      if (!line.trim()) continue
      const r = JSON.parse(line) as { event: string; step?: string; status?: string }
      if (r.event === 'step-start' && r.step && !done.includes(r.step)) done.push(r.step)
    }
  }
  return done
}
