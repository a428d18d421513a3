// `dr drill SCENARIO` and `dr drill list`: thin — validate, refuse where a drill must not run, hand over to
// src/drill, render.
import type { Command } from 'commander'
import readline from 'node:readline/promises'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { Inventory } from '../../inventory/types.ts'
import type { Connections } from '../../transport/connect.ts'
import type { LiveFacts, Scenario, ScenarioParams } from '../../drill/types.ts'
import { DrError, ExitCode } from '../../core/error.ts'
import { table } from '../../core/output.ts'
import { action } from '../run.ts'
import { projectRoot, type CliContext } from '../context.ts'

const SCENARIO_HELP = `
Scenarios:
  site-loss    power off the site holding the etcd majority; recover with dr failover --site <other>;
               put back: power on, dr fence, dr failback          (--site LOST, --survivor SITE)
  site-return  site-loss, then the lost site returns cut off: a second quorum forms unfenced, none once
               fenced; heal, dr failback                          (--site LOST, --survivor SITE)
  member-loss  one etcd host dies for good; dr member replace OLD --with NEW   (--host OLD, --with NEW)
  total-loss   dr backup now, every member's data wiped; dr backup restore      (--store NAME)

Each drill: checks the steady state (quorum read and write, apiservers ready, the sample workload), starts a
writer of numbered keys, injects the fault, recovers with the same dr commands an operator runs, checks the
steady state again, counts acknowledged writes lost and the recovery time, and puts the cluster back.
The verdict is "pass" or "fail" (exit 0 or 4), with the reasons. Every drill is kept in <stateDir>/drills/.

On the lab by default. A real inventory only with --allow-destructive-drills <its cluster name> (else exit 3).

Examples:
  dr drill site-loss --plan
  dr drill total-loss --yes --report ./drill-report     # report.json, report.md, report.html
  dr drill list
  dr drill site-loss -i prod.yaml --allow-destructive-drills prod --yes`

async function confirm(ctx: CliContext, what: string): Promise<void> {
  if (ctx.opts.yes) return
  if (process.stdin.isTTY && process.env.CI !== 'true') {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr })
    try {
      if ((await rl.question(`\n${what}\nType "yes" to break it on purpose: `)).trim() === 'yes') return
    } finally {
      rl.close()
    }
  }
  throw new DrError({ code: 'drill.not-confirmed', message: 'the drill was not confirmed', hint: 'add --yes to run it without asking', exit: 'refused' })
}

async function runScenario(ctx: CliContext, name: string, opts: Record<string, any>): Promise<number> {
  const { scenarioNamed } = await import('../../drill/scenarios/index.ts')
  const { checkAllowed } = await import('../../drill/safety.ts')
  const scenario = scenarioNamed(name)
  const inv = await ctx.inventory()
  const { lab } = checkAllowed(inv, opts.allowDestructiveDrills)
  const params = { site: opts.site, survivor: opts.survivor, host: opts.host, with: opts.with, store: opts.store }
  const { Connections } = await import('../../transport/connect.ts')
  const { liveMembers } = await import('../../drill/cluster-ops.ts')
  const conns = new Connections(inv, { out: ctx.out })
  try {
    // member-loss needs the live membership (which etcd host is a spare); read once, before anything breaks.
    const live = { members: await liveMembers(conns, inv) }
    const plan = scenario.plan(inv, params, live)
    if (ctx.opts.plan) {
      if (ctx.opts.json) ctx.out.data(plan)
      else {
        ctx.out.line(`drill ${plan.scenario} on cluster ${inv.cluster}${lab ? ' (lab)' : ''}: ${plan.title}`)
        for (const d of plan.description) ctx.out.line(`  ${d}`)
        ctx.out.line('\nmethod:')
        plan.method.forEach((a, i) => ctx.out.line(`  ${i + 1}. [${a.role}] ${a.title}${a.action.kind === 'dr' ? `: dr ${a.action.args.join(' ')}` : ''}`))
        ctx.out.line('rollbacks:')
        plan.rollbacks.forEach((a, i) => ctx.out.line(`  ${i + 1}. ${a.title}${a.action.kind === 'dr' ? `: dr ${a.action.args.join(' ')}` : ''}`))
        ctx.out.line('\nplan only: nothing was changed')
      }
      return ExitCode.ok
    }
    await confirm(ctx, `This drill breaks cluster ${inv.cluster} on purpose: ${plan.title}.`)
    return await run(ctx, inv, conns, { scenario, params, live, lab, opts })
  } finally {
    await conns.close()
  }
}

async function run(ctx: CliContext, inv: Inventory, conns: Connections, a: { scenario: Scenario; params: ScenarioParams; live: LiveFacts; lab?: string; opts: Record<string, any> }): Promise<number> {
  const { runDrill } = await import('../../drill/engine.ts')
  const { drillsDir, reportSummary } = await import('../../drill/store.ts')
  const version = (JSON.parse(readFileSync(`${projectRoot}/package.json`, 'utf8')) as { version: string }).version
  // DR_DRILL_SETTLE_MS: how long the steady state may take to come back (default 60 s; tests shorten it).
  const settleMs = process.env.DR_DRILL_SETTLE_MS ? Number(process.env.DR_DRILL_SETTLE_MS) : undefined
  const r = await runDrill({ inv, conns, out: ctx.out, scenario: a.scenario, params: a.params, live: a.live, lab: a.lab, reportDir: a.opts.report, version, settleMs })
  const dir = a.opts.report ? path.resolve(a.opts.report) : path.join(drillsDir(inv), r.id)
  if (ctx.opts.json) ctx.out.data(reportSummary(r, dir))
  else {
    ctx.out.line(`drill ${r.scenario}: ${r.verdict.toUpperCase()}`)
    for (const x of r.reasons) ctx.out.line(`  why: ${x}`)
    ctx.out.line(`  recovery time:  ${r.recoverySeconds === null ? '—' : `${r.recoverySeconds} s`} (first failed write → first acknowledged write); verified after ${r.verifiedSeconds === null ? '—' : `${r.verifiedSeconds} s`}`)
    ctx.out.line(`  writes:         ${r.acknowledgedWrites} acknowledged, ${r.lostWrites} lost${r.writes.lostWithinBudget ? ` (+${r.writes.lostWithinBudget} after the backup, its recovery point)` : ''}`)
    for (const x of r.warnings) ctx.out.line(`  warning: ${x}`)
    ctx.out.line(`  report:         ${path.join(dir, 'report.html')}`)
  }
  return r.verdict === 'pass' ? ExitCode.ok : ExitCode.unverified
}

async function list(ctx: CliContext): Promise<number> {
  const { listDrills } = await import('../../drill/store.ts')
  const inv = await ctx.inventory()
  const drills = listDrills(inv, (m) => ctx.out.warn(m))
  if (ctx.opts.json) ctx.out.data(drills)
  else if (drills.length === 0) ctx.out.line(`no drills yet for cluster ${inv.cluster} (run \`dr drill site-loss --plan\`)`)
  else {
    const n = (v: number | null) => (v === null ? '—' : `${v} s`)
    ctx.out.line(table(['STARTED', 'SCENARIO', 'VERDICT', 'RECOVERY', 'VERIFIED', 'ACKED', 'LOST', 'TOOK', 'ID'], drills.map((d) => [d.startedAt.slice(0, 16).replace('T', ' '), d.scenario, d.status === 'running' ? 'running?' : d.verdict, n(d.recoverySeconds), n(d.verifiedSeconds), String(d.acknowledgedWrites), String(d.lostWrites), `${d.durationSeconds} s`, d.id])))
  }
  return ExitCode.ok
}

export function registerDrill(program: Command) {
  program
    .command('drill')
    .description('game-day drills: break the lab on purpose, recover with dr, measure recovery time and lost writes')
    .argument('<scenario>', 'site-loss | site-return | member-loss | total-loss, or `list` for past drills')
    .option('--report <dir>', 'also write report.json, report.md and report.html into this directory')
    .option('--allow-destructive-drills <cluster>', 'allow a drill on this (non-lab) cluster: its name from the inventory')
    .option('--site <site>', 'the site to lose (default: the one holding the most etcd members)')
    .option('--survivor <site>', 'the site that survives (default: the other one with the most etcd members)')
    .option('--host <host>', 'member-loss: the etcd host that dies')
    .option('--with <host>', 'member-loss: the spare host that replaces it')
    .option('--store <name>', 'total-loss: the backup store')
    .addHelpText('after', SCENARIO_HELP)
    .action(action(async (ctx, [name], opts) => (name === 'list' ? list(ctx) : runScenario(ctx, name, opts))))
}
