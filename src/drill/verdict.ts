// The drill's verdict and timeline from its records (pure): a drill passes when the steady state held before
// the fault and again after the recovery, every method activity succeeded, and no acknowledged write outside the
// loss budget went missing. A drill that cannot fail proves nothing.
import type { ActivityRecord, DrillReport, SteadyState, TimelineEvent, WriteFigures } from './types.ts'

const failedProbes = (s: SteadyState) => s.probes.filter((p) => !p.ok).map((p) => `${p.name}: ${p.detail}`).join('; ')

export interface VerdictInput {
  steadyStateBefore?: SteadyState
  steadyStateAfter?: SteadyState
  method: ActivityRecord[]
  writes?: WriteFigures
  /** Why the lost writes could not be counted. */
  countError?: string
  error?: string
}

export function verdict(i: VerdictInput): { verdict: 'pass' | 'fail'; reasons: string[] } {
  const reasons: string[] = []
  if (i.error) reasons.push(`the drill stopped: ${i.error}`)
  if (!i.steadyStateBefore) reasons.push('the steady state was never checked')
  else if (!i.steadyStateBefore.ok) reasons.push(`the steady state did not hold before the fault, so nothing was broken: ${failedProbes(i.steadyStateBefore)}`)
  for (const a of i.method.filter((x) => x.status === 'failed')) reasons.push(`${a.title} failed: ${a.error ?? `exit ${a.exitCode}`}`)
  if (i.steadyStateBefore?.ok) {
    if (!i.steadyStateAfter) reasons.push('the steady state was not checked after the recovery')
    else if (!i.steadyStateAfter.ok) reasons.push(`the steady state did not come back after the recovery: ${failedProbes(i.steadyStateAfter)}`)
    if (i.countError) reasons.push(`the acknowledged writes could not be counted: ${i.countError}`)
    else if (i.writes && i.writes.lost > 0) reasons.push(`${i.writes.lost} acknowledged write(s) lost (${i.writes.lostKeys.slice(0, 3).join(', ')}${i.writes.lost > 3 ? ', …' : ''})`)
    if (i.writes && i.writes.firstFailureAfterFault !== undefined && i.writes.firstAckAfterRecovery === undefined) reasons.push('no write was acknowledged after the fault: the cluster never took writes again')
  }
  return { verdict: reasons.length === 0 ? 'pass' : 'fail', reasons }
}

/** When the fault began (the first fault activity's start), in ms from the drill's start. */
export const faultTime = (method: ActivityRecord[]) => method.find((a) => a.role === 'fault' && a.status !== 'skipped')?.start

/**
 * The outage as clients saw it: from the first write that failed after the fault began to the first one
 * acknowledged after that (0 when no write failed), in seconds. Measured by the writer, not by dr's own clock,
 * so a slow tool start does not count as recovery.
 */
export function recoverySeconds(method: ActivityRecord[], w?: WriteFigures): number | null {
  if (faultTime(method) === undefined || !w) return null
  if (w.firstFailureAfterFault === undefined) return 0
  if (w.firstAckAfterRecovery === undefined) return null
  return round((w.firstAckAfterRecovery - w.firstFailureAfterFault) / 1000)
}

/** From the outage's start (or the fault's end) to the end of the last recovery activity, when they all succeeded. */
export function verifiedSeconds(method: ActivityRecord[], w?: WriteFigures): number | null {
  const fault = method.find((a) => a.role === 'fault' && a.status !== 'skipped')
  const rec = method.filter((a) => a.role === 'recovery')
  if (!fault || rec.length === 0 || rec.some((a) => a.status !== 'succeeded')) return null
  const from = w?.firstFailureAfterFault ?? fault.start + fault.durationMs
  const last = rec[rec.length - 1]
  return round((last.start + last.durationMs - from) / 1000)
}

const round = (n: number) => Math.round(n * 10) / 10

export function timeline(r: Pick<DrillReport, 'method' | 'rollbacks' | 'writes' | 'durationMs' | 'steadyStateAfter'>): TimelineEvent[] {
  const ev: TimelineEvent[] = [{ t: 0, kind: 'start', label: 'drill started' }]
  for (const a of r.method.filter((x) => x.status !== 'skipped')) {
    const kind = a.role === 'fault' ? 'fault' : 'step'
    ev.push({ t: a.start, kind, label: a.title, durationMs: a.durationMs })
    for (const s of a.steps ?? []) ev.push({ t: s.start, kind: 'step', label: `  ${s.title}`, durationMs: s.durationMs })
  }
  if (r.writes.firstFailureAfterFault !== undefined) ev.push({ t: r.writes.firstFailureAfterFault, kind: 'detection', label: 'first write failed' })
  if (r.writes.firstAckAfterRecovery !== undefined) ev.push({ t: r.writes.firstAckAfterRecovery, kind: 'recovered', label: 'first acknowledged write after the fault' })
  const rec = r.method.filter((a) => a.role === 'recovery' && a.status === 'succeeded')
  if (rec.length && r.steadyStateAfter?.ok) {
    const last = rec[rec.length - 1]
    ev.push({ t: last.start + last.durationMs, kind: 'verified', label: 'recovery verified' })
  }
  for (const a of r.rollbacks.filter((x) => x.status !== 'skipped')) ev.push({ t: a.start, kind: 'rollback', label: a.title, durationMs: a.durationMs })
  ev.push({ t: r.durationMs, kind: 'end', label: 'drill ended' })
  return ev.sort((a, b) => a.t - b.t)
}
