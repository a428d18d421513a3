// Running a runbook from the command line: --plan prints the plan and changes nothing; otherwise the plan is
// shown, confirmed (or --yes), applied step by step with progress, and reported with the journal's path.
import readline from 'node:readline/promises'
import { ExitCode } from '../core/error.ts'
import { apply, plan } from '../runbook/engine.ts'
import { renderPlan, renderReport } from '../runbook/render.ts'
import type { Plan, RunReport, Runbook } from '../runbook/types.ts'
import { Connections } from '../transport/connect.ts'
import type { CliContext } from './context.ts'

async function askOnTerminal(p: Plan): Promise<boolean> {
  if (!process.stdin.isTTY || process.env.CI === 'true') return false
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr })
  try {
    const n = p.steps.filter((s) => s.changes.length > 0).length
    const answer = await rl.question(`\nApply these ${n} step(s) to cluster ${p.cluster}? Type "yes" to go on: `)
    return answer.trim() === 'yes'
  } finally {
    rl.close()
  }
}

export async function runRunbook<F>(
  ctx: CliContext,
  rb: Runbook<F>,
  options: Record<string, unknown>,
  extra: { breakLock?: boolean; onReport?: (r: RunReport) => string[] } = {},
): Promise<number> {
  const inv = await ctx.inventory()
  const conns = new Connections(inv, { out: ctx.out })
  const base = { inv, conns, out: ctx.out, options }
  try {
    if (ctx.opts.plan) {
      const p = await plan(rb, base)
      if (ctx.opts.json) ctx.out.data(p)
      else ctx.out.line(renderPlan(p))
      return ExitCode.ok
    }
    const report = await apply(rb, {
      ...base,
      yes: ctx.opts.yes,
      breakLock: extra.breakLock,
      confirm: askOnTerminal,
      onPlan: (p) => ctx.out.line(renderPlan(p) + '\n'),
    })
    const more = extra.onReport?.(report) ?? []
    if (ctx.opts.json) ctx.out.data({ ...report, summary: more })
    else ctx.out.line([renderReport(report), ...(more.length ? ['', ...more] : [])].join('\n'))
    return ExitCode.ok
  } finally {
    await conns.close()
  }
}
