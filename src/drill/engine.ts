// Running a drill: the journal is started before anything happens and finalised in `finally`; the steady state
// is checked, the writer started, the method run activity by activity, the steady state checked again, the
// writer stopped and its acknowledged writes looked for, the rollbacks run whatever happened, and the journal
// rendered as the report.
import os from 'node:os'
import type { Output } from '../core/output.ts'
import type { Inventory } from '../inventory/types.ts'
import { hostsInSite } from '../inventory/types.ts'
import type { TransportSource } from '../etcd/client.ts'
import { connectMember } from '../etcd/client.ts'
import { probeCluster } from '../etcd/status.ts'
import { runAction, type ActionContext } from './actions.ts'
import { liveMembers } from './cluster-ops.ts'
import { measure, sequencesOf } from './measure.ts'
import { putBackProbe, steadyState, type Baseline } from './probes.ts'
import { saveReport } from './store.ts'
import type { ActivityRecord, ActivitySpec, DrillReport, LiveFacts, Scenario, ScenarioParams, ScenarioPlan, SkipCondition, SteadyState } from './types.ts'
import { recoverySeconds, timeline, verdict, verifiedSeconds } from './verdict.ts'
import { Writer, type WriteSample } from './writer.ts'

export interface DrillOptions {
  inv: Inventory
  conns: TransportSource
  out: Output
  scenario: Scenario
  params: ScenarioParams
  lab?: string
  /** Also write report.json, report.md and report.html here. */
  reportDir?: string
  version: string
  /** How long the steady state may take to come back after the recovery. */
  settleMs?: number
  /** What the scenario's plan reads from the cluster; read at the start when not given. */
  live?: LiveFacts
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const message = (e: unknown) => (e instanceof Error ? e.message : String(e))

/** The inventory without hosts lost for good: gone from the host table and from their site's list (pure). */
export function withoutHosts(inv: Inventory, lost: Set<string>): Inventory {
  const hosts = Object.fromEntries(Object.entries(inv.hosts).filter(([h]) => !lost.has(h)))
  const sites = Object.fromEntries(Object.entries(inv.sites).map(([name, s]) => [name, { ...s, hosts: s.hosts.filter((h) => !lost.has(h)) }]))
  return { ...inv, hosts, sites }
}

/** `${name}` in an activity's arguments, from values captured earlier (pure). */
export function substitute(spec: ActivitySpec, values: Record<string, string>): ActivitySpec {
  if (spec.action.kind !== 'dr') return spec
  const args = spec.action.args.map((a) => a.replace(/\$\{(\w+)\}/g, (m, k: string) => values[k] ?? m))
  return { ...spec, action: { ...spec.action, args } }
}

/**
 * DR_DRILL_SABOTAGE=recovery-noop: a test breaks the recovery on purpose — each recovery command runs with
 * --plan, exits 0 and changes nothing. The drill must then fail on its own evidence (pure).
 */
export function sabotaged(spec: ActivitySpec, sabotage: string | undefined): ActivitySpec {
  if (sabotage !== 'recovery-noop' || spec.role !== 'recovery' || spec.action.kind !== 'dr') return spec
  return { ...spec, title: `${spec.title} (sabotaged: --plan, changes nothing)`, action: { ...spec.action, args: [...spec.action.args, '--plan'] } }
}

function capture(spec: ActivitySpec, output: string | undefined, values: Record<string, string>) {
  if (!spec.capture || !output) return
  const json = output.split('\n--- stderr ---\n')[0]
  try {
    const doc = JSON.parse(json) as Record<string, unknown>
    for (const [name, field] of Object.entries(spec.capture)) if (doc[field] !== undefined) values[name] = String(doc[field])
  } catch {
    // not JSON: the later activity keeps its ${name} and fails loudly with it
  }
}

async function runActivity(ctx: ActionContext, spec: ActivitySpec, out: Output): Promise<ActivityRecord> {
  const start = Date.now()
  out.progress(`▸ ${spec.title}`)
  let rec: Omit<ActivityRecord, 'endedAt' | 'durationMs'> | undefined
  const earlier: string[] = []
  for (let attempt = 0; attempt <= (spec.retries ?? 0); attempt++) {
    if (rec) {
      earlier.push(`attempt ${attempt}: ${rec.error ?? `exit ${rec.exitCode}`}`)
      out.progress(`  failed (${rec.error ?? `exit ${rec.exitCode}`}); running it again: a dr runbook resumes where it stopped`)
    }
    try {
      const r = await runAction(ctx, spec.action)
      rec = { id: spec.id, title: spec.title, role: spec.role, action: spec.action, status: r.ok ? 'succeeded' : 'failed', startedAt: new Date(start).toISOString(), start: start - ctx.t0, command: r.command, exitCode: r.exitCode, output: r.output, error: r.error, steps: r.steps }
    } catch (e) {
      rec = { id: spec.id, title: spec.title, role: spec.role, action: spec.action, status: 'failed', startedAt: new Date(start).toISOString(), start: start - ctx.t0, error: message(e) }
    }
    if (rec.status === 'succeeded') break
  }
  if (earlier.length) rec = { ...rec!, output: [`earlier attempts failed: ${earlier.join('; ')}`, rec!.output ?? ''].join('\n') }
  const end = Date.now()
  out.progress(`  ${rec!.status === 'succeeded' ? 'ok' : 'FAILED'} in ${((end - start) / 1000).toFixed(1)} s${rec!.error && rec!.status !== 'succeeded' ? `: ${rec!.error}` : ''}`)
  return { ...rec!, endedAt: new Date(end).toISOString(), durationMs: end - start }
}

const skipped = (spec: ActivitySpec, t0: number): ActivityRecord => ({
  id: spec.id, title: spec.title, role: spec.role, action: spec.action, status: 'skipped', startedAt: new Date().toISOString(), endedAt: new Date().toISOString(), start: Date.now() - t0, durationMs: 0,
})

/** The steady state, polled until it holds or the time is up (the last attempt is what counts). */
async function settle(o: DrillOptions, sites: string[], baseline: Baseline, ms: number, workloadSites = sites): Promise<SteadyState> {
  const started = Date.now()
  for (;;) {
    const { state } = await steadyState(o.conns, o.inv, sites, baseline, workloadSites)
    if (state.ok || Date.now() - started > ms) return { ...state, at: new Date(started).toISOString(), durationMs: Date.now() - started }
    await sleep(2000)
  }
}

/** The writer's keys as the recovered cluster has them (a linearizable read through a member with quorum). */
async function presentKeys(o: DrillOptions, prefix: string): Promise<Set<number>> {
  const s = await probeCluster(o.conns, o.inv, { timeoutMs: 3000 })
  const through = s.members.find((m) => m.quorumRead)
  if (!through) throw new Error('no member answers a linearizable read')
  const c = await connectMember(o.conns, o.inv, through.host, { callTimeoutMs: 30_000 })
  try {
    const keys = await c.client.getAll().prefix(prefix).keys()
    // The writer's keys are the drill's own: gone once counted, so drills leave no litter.
    await c.client.delete().prefix(prefix)
    return sequencesOf(keys, prefix)
  } finally {
    await c.close()
  }
}

/** Whether a rollback's skip condition holds; waits a little for a quorum (a site just powered on). */
async function holds(o: DrillOptions, c: SkipCondition): Promise<boolean> {
  const addrs = hostsInSite(o.inv, c.site).filter((h) => h.roles.includes('etcd')).map((h) => h.address)
  const started = Date.now()
  for (;;) {
    const s = await probeCluster(o.conns, o.inv, { timeoutMs: 3000 })
    if (s.verdict.hasQuorum) {
      const listed = s.memberList.flatMap((m) => m.peerURLs.map((u) => new URL(u).hostname))
      return addrs.every((a) => listed.includes(a))
    }
    if (Date.now() - started > 45_000) return false
    await sleep(2000)
  }
}

export async function runDrill(o: DrillOptions): Promise<DrillReport> {
  const t0 = Date.now()
  const id = `${new Date(t0).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${o.scenario.name}`
  const prefix = `dr-drill/${id}/`
  const sabotage = process.env.DR_DRILL_SABOTAGE || undefined
  const report: DrillReport = {
    scenario: o.scenario.name, title: o.scenario.summary, id, cluster: o.inv.cluster, inventory: o.inv.file, lab: !!o.lab,
    verdict: 'fail', reasons: [], warnings: [], sabotage, startedAt: new Date(t0).toISOString(), endedAt: '', durationMs: 0,
    recoverySeconds: null, verifiedSeconds: null, acknowledgedWrites: 0, lostWrites: 0,
    writes: { attempted: 0, acknowledged: 0, lost: 0, lostWithinBudget: 0, lostKeys: [], rate: [] }, lossBudget: 'none', description: [],
    timeline: [], method: [], rollbacks: [], status: 'running',
    platform: { dr: o.version, node: process.version, hostname: os.hostname(), user: os.userInfo().username },
  }
  saveReport(o.inv, report)
  const ctx: ActionContext = { inv: o.inv, conns: o.conns, out: o.out, lab: o.lab, drillId: id, t0 }
  const writer = new Writer(o.conns, o.inv, { prefix, t0 })
  let samples: WriteSample[] = []
  let plan: ScenarioPlan | undefined
  let baseline: Baseline | undefined
  let countError: string | undefined
  let present: Set<number> | undefined
  let recoveryPointAt: number | undefined
  try {
    plan = o.scenario.plan(o.inv, o.params, o.live ?? { members: await liveMembers(o.conns, o.inv) })
    Object.assign(report, { title: plan.title, description: plan.description, lossBudget: plan.lossBudget })
    o.out.progress(`drill ${id}: ${plan.title}`)
    o.out.progress('▸ Check the steady state')
    // A busy machine can miss one probe: the hypothesis gets the same settling time before as after.
    const sites = Object.keys(o.inv.sites)
    let before = await steadyState(o.conns, o.inv, sites)
    for (const started = Date.now(); !before.state.ok && Date.now() - started < (o.settleMs ?? 60_000); ) {
      await sleep(2000)
      before = await steadyState(o.conns, o.inv, sites)
    }
    report.steadyStateBefore = { ...before.state, at: new Date(t0).toISOString(), durationMs: Date.now() - t0 }
    baseline = before.baseline
    for (const p of before.state.probes) o.out.progress(`  ${p.ok ? 'ok  ' : 'FAIL'} ${p.name}: ${p.detail}`)
    if (!before.state.ok) return report
    writer.start()
    await sleep(3000) // a few seconds of writes before anything breaks: the chart's baseline
    const values: Record<string, string> = {}
    let stopped = false
    for (const raw of plan.method) {
      const spec = sabotaged(substitute(raw, values), sabotage)
      if (stopped) {
        report.method.push(skipped(spec, t0))
        continue
      }
      if (spec.recoveryPoint) recoveryPointAt = Date.now() - t0
      const rec = await runActivity(ctx, spec, o.out)
      report.method.push(rec)
      capture(spec, rec.output, values)
      if (rec.status === 'failed' && !spec.tolerateFailure) stopped = true
      saveReport(o.inv, report)
    }
    o.out.progress('▸ Check the steady state again')
    const lost = new Set(plan.lostHosts ?? [])
    const inv = lost.size ? withoutHosts(o.inv, lost) : o.inv
    report.steadyStateAfter = await settle({ ...o, inv }, plan.servingSites, baseline, o.settleMs ?? 60_000, plan.workloadSites)
    for (const p of report.steadyStateAfter.probes) o.out.progress(`  ${p.ok ? 'ok  ' : 'FAIL'} ${p.name}: ${p.detail}`)
    await sleep(2000) // writes after the recovery, so the chart shows the rate coming back
    samples = await writer.stop()
    try {
      present = await presentKeys({ ...o, inv }, prefix)
    } catch (e) {
      countError = message(e)
    }
  } catch (e) {
    report.error = message(e)
  } finally {
    if (samples.length === 0) samples = await writer.stop()
    const recovered = !!report.steadyStateAfter?.ok
    // Nothing was broken when no activity ran: then there is nothing to put back.
    const began = report.method.some((a) => a.status !== 'skipped')
    for (const spec of began ? plan?.rollbacks ?? [] : []) {
      const skip = (spec.onlyIfRecoveryFailed && recovered) || (spec.skipIf && (await holds(o, spec.skipIf)))
      report.rollbacks.push(skip ? skipped(spec, t0) : await runActivity(ctx, spec, o.out))
      saveReport(o.inv, report)
    }
    if (baseline && report.steadyStateBefore?.ok) {
      o.out.progress('▸ Check that the cluster is back as it was found')
      const started = Date.now()
      let back = await putBackProbe(o.conns, o.inv, baseline).catch((e) => ({ ok: false, at: new Date().toISOString(), durationMs: 0, probes: [{ name: 'put back', ok: false, detail: message(e) }] }))
      while (!back.ok && Date.now() - started < 45_000) {
        await sleep(3000)
        back = await putBackProbe(o.conns, o.inv, baseline).catch(() => back)
      }
      report.putBack = back
      for (const p of back.probes.filter((x) => !x.ok)) report.warnings.push(`not put back: ${p.name}: ${p.detail}`)
      for (const r of report.rollbacks.filter((x) => x.status === 'failed')) report.warnings.push(`rollback "${r.title}" failed: ${r.error ?? `exit ${r.exitCode}`}`)
    }
    // Counted after the rollbacks when the recovery left no quorum to count them with (a failed drill).
    if (!present && samples.length > 0 && report.putBack?.ok) {
      try {
        present = await presentKeys(o, prefix)
        countError = undefined
      } catch (e) {
        countError = message(e)
      }
    }
    const writes = measure({ samples, present: present ?? new Set(), faultAt: report.method.find((a) => a.role === 'fault')?.start, recoveryAt: report.method.find((a) => a.role === 'recovery' && a.status !== 'skipped')?.start, lossBudget: report.lossBudget, recoveryPointAt, prefix })
    const end = Date.now()
    Object.assign(report, {
      writes: present ? writes : { ...writes, lost: 0, lostKeys: [] },
      acknowledgedWrites: writes.acknowledged,
      lostWrites: present ? writes.lost : 0,
      endedAt: new Date(end).toISOString(),
      durationMs: end - t0,
      status: report.error ? 'aborted' : 'completed',
    })
    Object.assign(report, verdict({ ...report, writes, countError: present || !report.steadyStateBefore?.ok ? undefined : countError ?? 'the writer keys were never read' }))
    report.recoverySeconds = recoverySeconds(report.method, writes)
    report.verifiedSeconds = report.steadyStateAfter?.ok ? verifiedSeconds(report.method, writes) : null
    report.timeline = timeline(report)
    saveReport(o.inv, report, o.reportDir)
  }
  return report
}
