// Plan and report rendering for people; --json prints the same objects.
import { formatDuration } from '../core/output.ts'
import type { Plan, RunReport } from './types.ts'

export function renderPlan(plan: Plan): string {
  const out = [`Plan: ${plan.title} (cluster ${plan.cluster})`]
  for (const d of plan.description) out.push(`  ${d}`)
  out.push('')
  if (plan.empty) {
    out.push('Nothing to do: every step already holds.')
    return out.join('\n')
  }
  for (const s of plan.steps) {
    const mark = s.changes.length === 0 ? '  (nothing to do)' : s.destructive ? '  [DESTRUCTIVE]' : ''
    out.push(`${String(s.index).padStart(2)}. ${s.title}${s.host ? `  @${s.host}` : ''}${mark}`)
    for (const c of s.changes) {
      out.push(`      - ${c.summary}${c.destructive && !s.destructive ? '  [DESTRUCTIVE]' : ''}`)
      if (c.command) out.push(...c.command.split('\n').map((l) => `          ${l}`))
    }
  }
  const n = plan.steps.filter((s) => s.changes.length > 0).length
  const d = plan.steps.filter((s) => s.destructive).length
  out.push('', `${n} step(s) will change the cluster, ${d} of them destructive: each change above says what it keeps and what it removes.`)
  return out.join('\n')
}

export function renderReport(r: RunReport): string {
  const out: string[] = []
  if (r.status === 'nothing-to-do') out.push(`${r.plan.title}: nothing to do — the cluster is already in the end state.`)
  else out.push(`${r.runbook} ${r.status} in ${formatDuration(r.durationMs)}`)
  for (const s of r.steps) {
    const mark = s.outcome === 'done' ? 'done' : s.outcome === 'nothing-to-do' ? 'skip' : 'FAIL'
    out.push(`  ${mark.padEnd(4)}  ${s.title}${s.host ? ` @${s.host}` : ''}  ${s.outcome === 'done' ? formatDuration(s.durationMs) : ''}`.trimEnd())
  }
  if (r.verification.length) {
    out.push('', 'Verification:')
    for (const v of r.verification) out.push(`  ${v}`)
  }
  out.push('', `Journal: ${r.journalPath}`)
  return out.join('\n')
}
