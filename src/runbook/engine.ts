// The runbook engine: plan (every check, nothing changed) and apply (lock, re-check, confirm, apply, verify,
// journal). Convergence comes from the checks: each reads the world, so a re-run after a crash redoes only
// what is not yet true, and a finished runbook plans nothing.
import path from 'node:path'
import { DrError, isDrError } from '../core/error.ts'
import type { Output } from '../core/output.ts'
import { formatDuration } from '../core/output.ts'
import type { Inventory } from '../inventory/types.ts'
import type { TransportSource } from '../etcd/client.ts'
import { Journal, newRunId, runMeta } from './journal.ts'
import { acquireLock, lockRunbookHosts, type HostLock } from './lock.ts'
import type { Plan, RunReport, Runbook, StepContext, StepReport } from './types.ts'

export interface EngineOptions {
  inv: Inventory
  conns: TransportSource
  out: Output
  options: Record<string, unknown>
  /** Ask before applying; resolves true to go on. Not called with yes. */
  confirm?: (plan: Plan) => Promise<boolean>
  yes?: boolean
  breakLock?: boolean
  /** Called once the plan is known, before anything changes (the CLI prints it). */
  onPlan?: (plan: Plan) => void
}

async function buildPlan<F>(rb: Runbook<F>, ctx: StepContext<F>): Promise<Plan> {
  const steps = rb.steps(ctx.facts, ctx.options)
  const planned = []
  // A plan must show what the apply will do: each check learns which earlier steps will change the cluster.
  const willChange = new Set<string>()
  for (const [i, s] of steps.entries()) {
    const changes = await s.check({ ...ctx, willChange, planning: true })
    if (changes.length > 0) willChange.add(s.id)
    planned.push({ index: i + 1, id: s.id, title: s.title, host: s.host, destructive: !!s.destructive && changes.length > 0, changes })
  }
  return {
    runbook: rb.name,
    title: rb.title,
    cluster: ctx.inv.cluster,
    description: rb.describe(ctx.facts, ctx.options),
    steps: planned,
    empty: planned.every((s) => s.changes.length === 0),
  }
}

/** Every check, nothing changed. */
export async function plan<F>(rb: Runbook<F>, o: EngineOptions): Promise<Plan> {
  const base = { inv: o.inv, conns: o.conns, out: o.out, options: o.options }
  const facts = await rb.assess(base)
  return buildPlan(rb, { ...base, facts })
}

export async function apply<F>(rb: Runbook<F>, o: EngineOptions): Promise<RunReport> {
  const release = acquireLock(o.inv.stateDir, rb.name, { breakLock: o.breakLock })
  const started = new Date()
  const runId = newRunId(started)
  const journal = new Journal(path.join(o.inv.stateDir, 'journal'), runId, rb.name)
  const reports: StepReport[] = []
  let status: RunReport['status'] = 'failed'
  let thePlan: Plan | undefined
  let verification: string[] = []
  let hostLock: HostLock | undefined
  journal.write({ event: 'run-start', runbook: rb.name, cluster: o.inv.cluster, options: o.options, ...runMeta() })
  try {
    const base = { inv: o.inv, conns: o.conns, out: o.out, options: o.options, journal }
    const facts = await rb.assess(base)
    hostLock = await lockRunbookHosts(rb, facts, { ...base, breakLock: o.breakLock })
    const ctx: StepContext<F> = { ...base, facts }
    thePlan = await buildPlan(rb, ctx)
    journal.write({ event: 'plan', plan: thePlan })
    o.onPlan?.(thePlan)
    if (thePlan.empty) {
      verification = rb.finalVerify ? await rb.finalVerify(ctx) : []
      status = 'nothing-to-do'
      return report()
    }
    if (!o.yes) {
      const ok = o.confirm ? await o.confirm(thePlan) : false
      if (!ok)
        throw new DrError({
          code: 'runbook.not-confirmed',
          message: o.confirm ? 'not confirmed; nothing was changed' : 'refusing to change the cluster without confirmation',
          hint: 'review the plan (--plan), then run again with --yes, or on a terminal and answer the prompt',
          exit: 'refused',
        })
    }
    const steps = rb.steps(facts, o.options)
    const applied = new Set<string>()
    for (const [i, step] of steps.entries()) {
      const t0 = Date.now()
      const label = `[${i + 1}/${steps.length}] ${step.title}`
      // Re-check: the world may have moved since the plan (or a crashed run did part of this step).
      const changes = await step.check({ ...ctx, willChange: applied })
      if (changes.length === 0) {
        o.out.progress(`${label} … nothing to do`)
        journal.write({ event: 'step-end', step: step.id, host: step.host, status: 'nothing-to-do', durationMs: 0 })
        reports.push({ id: step.id, title: step.title, host: step.host, outcome: 'nothing-to-do', changes, durationMs: 0 })
        crashHook(step.id)
        continue
      }
      o.out.progress(`${label} …`)
      journal.write({ event: 'step-start', step: step.id, host: step.host, changes })
      try {
        await step.apply(ctx, changes)
        const evidence = (await step.verify(ctx)) ?? undefined
        const durationMs = Date.now() - t0
        applied.add(step.id)
        journal.write({ event: 'step-end', step: step.id, host: step.host, status: 'done', changes, evidence, durationMs })
        reports.push({ id: step.id, title: step.title, host: step.host, outcome: 'done', changes, evidence, durationMs })
        o.out.progress(`${label} … done (${formatDuration(durationMs)})${evidence ? ` — ${evidence}` : ''}`)
      } catch (e) {
        const durationMs = Date.now() - t0
        journal.write({ event: 'step-end', step: step.id, host: step.host, status: 'failed', error: errorRecord(e), durationMs })
        reports.push({ id: step.id, title: step.title, host: step.host, outcome: 'failed', changes, durationMs, error: e })
        throw e
      }
      crashHook(step.id)
    }
    verification = rb.finalVerify ? await rb.finalVerify(ctx) : []
    status = 'succeeded'
    return report()
  } finally {
    journal.write({ event: 'run-end', status, durationMs: Date.now() - started.getTime(), verification })
    journal.close()
    await hostLock?.release()
    release()
  }

  function report(): RunReport {
    const ended = new Date()
    return {
      runbook: rb.name,
      runId,
      cluster: o.inv.cluster,
      startedAt: started.toISOString(),
      endedAt: ended.toISOString(),
      durationMs: ended.getTime() - started.getTime(),
      status,
      plan: thePlan!,
      steps: reports,
      verification,
      journalPath: journal.path,
    }
  }
}

function errorRecord(e: unknown) {
  return isDrError(e) ? e.toJSON() : { code: 'bug', message: e instanceof Error ? e.message : String(e) }
}

/** For the crash-at-every-step tests: die like `kill -9` right after the named step. Never set in production. */
function crashHook(stepId: string) {
  if (process.env.DR_TEST_CRASH_AFTER_STEP === stepId) process.kill(process.pid, 'SIGKILL')
}
