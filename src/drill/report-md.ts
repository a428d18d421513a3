// The drill report as Markdown: the figures first, then the timeline, the steady state, every activity.
import type { ActivityRecord, DrillReport, SteadyState } from './types.ts'

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`
const orDash = (n: number | null, unit = ' s') => (n === null ? '—' : `${n}${unit}`)
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ')

function steady(title: string, s?: SteadyState): string[] {
  if (!s) return [`### ${title}`, '', 'not checked', '']
  return [`### ${title}: ${s.ok ? 'holds' : 'DOES NOT HOLD'}`, '', '| probe | result | detail |', '| --- | --- | --- |', ...s.probes.map((p) => `| ${cell(p.name)} | ${p.ok ? 'ok' : '**FAIL**'} | ${cell(p.detail)} |`), '']
}

function activities(title: string, list: ActivityRecord[]): string[] {
  if (list.length === 0) return []
  const out = [`## ${title}`, '']
  for (const a of list) {
    out.push(`### ${a.title} — ${a.status}${a.status === 'skipped' ? '' : ` (${secs(a.durationMs)}, at +${secs(a.start)})`}`, '')
    if (a.command) out.push('```', a.command, '```', '')
    if (a.error) out.push(`**error:** ${a.error}`, '')
    if (a.steps?.length) out.push('| step | outcome | at | took |', '| --- | --- | --- | --- |', ...a.steps.map((s) => `| ${cell(s.title)} | ${s.outcome} | +${secs(s.start)} | ${secs(s.durationMs)} |`), '')
    if (a.output) out.push('<details><summary>output</summary>', '', '```', a.output.slice(-3000), '```', '', '</details>', '')
  }
  return out
}

export function renderMarkdown(r: DrillReport): string {
  const w = r.writes
  return [
    `# Drill ${r.scenario}: ${r.verdict === 'pass' ? 'PASS' : 'FAIL'}`,
    '',
    `${r.title} — cluster \`${r.cluster}\`${r.lab ? ' (lab)' : ''}, ${r.startedAt}, ${secs(r.durationMs)}. Drill \`${r.id}\`.`,
    '',
    ...(r.sabotage ? [`> The recovery was sabotaged on purpose (\`${r.sabotage}\`).`, ''] : []),
    ...(r.reasons.length ? ['Why it failed:', '', ...r.reasons.map((x) => `- ${x}`), ''] : []),
    '| figure | value |',
    '| --- | --- |',
    `| recovery time (first failed write → first acknowledged write) | ${orDash(r.recoverySeconds)} |`,
    `| outage start → recovery verified | ${orDash(r.verifiedSeconds)} |`,
    `| acknowledged writes | ${r.acknowledgedWrites} of ${w.attempted} attempted |`,
    `| acknowledged writes lost | ${r.lostWrites}${w.lostWithinBudget ? ` (+${w.lostWithinBudget} after the backup, within its recovery point)` : ''} |`,
    '',
    ...r.description.map((d) => `- ${d}`),
    '',
    ...(r.warnings.length ? ['Warnings:', '', ...r.warnings.map((x) => `- ${x}`), ''] : []),
    '## Timeline',
    '',
    '| at | event | took |',
    '| --- | --- | --- |',
    ...r.timeline.map((e) => `| +${secs(e.t)} | ${e.kind === 'step' ? '' : `**${e.kind}** `}${cell(e.label.trim())} | ${e.durationMs === undefined ? '' : secs(e.durationMs)} |`),
    '',
    '## Steady state',
    '',
    ...steady('Before the fault', r.steadyStateBefore),
    ...steady('After the recovery', r.steadyStateAfter),
    ...steady('After the rollbacks (the cluster as found)', r.putBack),
    ...activities('Method', r.method),
    ...activities('Rollbacks', r.rollbacks),
    ...(w.lostKeys.length ? ['## Lost keys', '', ...w.lostKeys.map((k) => `- \`${k}\``), ''] : []),
    `_dr ${r.platform.dr}, node ${r.platform.node}, ${r.platform.user}@${r.platform.hostname}_`,
    '',
  ].join('\n')
}
