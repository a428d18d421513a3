// Drills are kept under the state directory, one folder each (<stateDir>/drills/<id>/report.json, .md, .html),
// so `dr drill list` can show a team its recovery times over the quarters. The JSON is rewritten as the drill
// goes (status "running"), so a drill killed half-way still leaves a true record.
import fs from 'node:fs'
import path from 'node:path'
import { writeFileDurableSync } from '../core/durable.ts'
import type { Inventory } from '../inventory/types.ts'
import { renderHtml } from './report-html.ts'
import { renderMarkdown } from './report-md.ts'
import type { DrillReport } from './types.ts'

export const drillsDir = (inv: Pick<Inventory, 'stateDir'>) => path.join(inv.stateDir, 'drills')

export function writeReportFiles(dir: string, r: DrillReport): string[] {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  const files = [path.join(dir, 'report.json')]
  writeFileDurableSync(files[0], JSON.stringify(r, null, 2) + '\n')
  if (r.status !== 'running') {
    files.push(path.join(dir, 'report.md'), path.join(dir, 'report.html'))
    writeFileDurableSync(files[1], renderMarkdown(r))
    writeFileDurableSync(files[2], renderHtml(r))
  }
  return files
}

export function saveReport(inv: Pick<Inventory, 'stateDir'>, r: DrillReport, reportDir?: string): string[] {
  const files = writeReportFiles(path.join(drillsDir(inv), r.id), r)
  return reportDir ? [...files, ...writeReportFiles(path.resolve(reportDir), r)] : files
}

export interface DrillSummary {
  id: string
  scenario: string
  startedAt: string
  verdict: DrillReport['verdict']
  status: DrillReport['status']
  recoverySeconds: number | null
  verifiedSeconds: number | null
  acknowledgedWrites: number
  lostWrites: number
  durationSeconds: number
  reasons: string[]
  report: string
}

/**
 * What `dr drill SCENARIO --json` prints: the figures, the verdict, each activity's outcome and the timeline,
 * with the path of the full report (the report itself holds every write sample and command output: megabytes).
 */
export function reportSummary(r: DrillReport, dir: string) {
  const activity = (a: DrillReport['method'][number]) => ({ id: a.id, title: a.title, role: a.role, status: a.status, durationMs: a.durationMs, ...(a.error ? { error: a.error } : {}) })
  return {
    id: r.id, scenario: r.scenario, title: r.title, cluster: r.cluster, verdict: r.verdict, reasons: r.reasons, warnings: r.warnings,
    ...(r.sabotage ? { sabotage: r.sabotage } : {}),
    startedAt: r.startedAt, durationSeconds: Math.round(r.durationMs / 1000),
    recoverySeconds: r.recoverySeconds, verifiedSeconds: r.verifiedSeconds,
    acknowledgedWrites: r.acknowledgedWrites, lostWrites: r.lostWrites, lostWithinBudget: r.writes.lostWithinBudget, lossBudget: r.lossBudget,
    steadyStateBefore: r.steadyStateBefore?.ok ?? null, steadyStateAfter: r.steadyStateAfter?.ok ?? null, putBack: r.putBack?.ok ?? null,
    method: r.method.map(activity), rollbacks: r.rollbacks.map(activity),
    timeline: r.timeline,
    report: path.join(dir, 'report.json'),
  }
}

/** Every kept drill, oldest first. A folder without a readable report.json is skipped with a warning. */
export function listDrills(inv: Pick<Inventory, 'stateDir'>, warn: (m: string) => void = () => undefined): DrillSummary[] {
  const dir = drillsDir(inv)
  if (!fs.existsSync(dir)) return []
  const out: DrillSummary[] = []
  for (const name of fs.readdirSync(dir).sort()) {
    const file = path.join(dir, name, 'report.json')
    let r: DrillReport
    try {
      r = JSON.parse(fs.readFileSync(file, 'utf8')) as DrillReport
    } catch (e) {
      warn(`${file}: ${(e as Error).message}`)
      continue
    }
    out.push({
      id: r.id, scenario: r.scenario, startedAt: r.startedAt, verdict: r.verdict, status: r.status,
      recoverySeconds: r.recoverySeconds, verifiedSeconds: r.verifiedSeconds, acknowledgedWrites: r.acknowledgedWrites, lostWrites: r.lostWrites,
      durationSeconds: Math.round(r.durationMs / 1000), reasons: r.reasons, report: path.join(dir, name),
    })
  }
  return out.sort((a, b) => a.startedAt.localeCompare(b.startedAt))
}
