// The drill's figures from the writer's samples (pure): acknowledged writes, the ones missing afterwards, the
// write rate per second, and when writes stopped and started again around the fault.
import type { LossBudget, WriteFigures } from './types.ts'
import type { WriteSample } from './writer.ts'

export interface MeasureInput {
  samples: WriteSample[]
  /** Sequence numbers found in the recovered cluster. */
  present: Set<number>
  /** Milliseconds from the drill's start when the fault was injected (undefined: never). */
  faultAt?: number
  /** When the first recovery activity began: writes that come back before it are a blip inside the fault. */
  recoveryAt?: number
  lossBudget: LossBudget
  /** For 'after-backup': when the backup started; writes acknowledged after it may be missing. */
  recoveryPointAt?: number
  /** How many lost keys to list by name. */
  listLost?: number
  prefix?: string
}

export interface Outage {
  /** The first failed write that started at or after the fault. */
  firstFailure?: number
  /** The first acknowledged write that started after the outage's last failure before the recovery began. */
  firstAckAfter?: number
}

/**
 * When writes failed after the fault, and when they succeeded again for good. While a fault is being injected
 * (members stopped one by one) a write can fail on a leader change and the next one succeed on the members still
 * up: that blip is not the recovery. The outage ends with the first write acknowledged after the last failure that
 * started before the recovery began (without a recovery time: after the first failure).
 */
export function outage(samples: WriteSample[], faultAt: number | undefined, recoveryAt?: number): Outage {
  if (faultAt === undefined) return {}
  const failure = samples.find((s) => !s.ok && s.start >= faultAt)
  if (!failure) return {}
  const before = recoveryAt === undefined ? [] : samples.filter((s) => !s.ok && s.start >= faultAt && s.start < recoveryAt)
  const last = before.length ? Math.max(...before.map((s) => s.start)) : failure.start
  const ack = samples.find((s) => s.ok && s.start > last)
  return { firstFailure: failure.start, firstAckAfter: ack?.end }
}

/** Acknowledged and failed writes per whole second of the drill, every second present (zeros included). */
export function ratePerSecond(samples: WriteSample[]): WriteFigures['rate'] {
  if (samples.length === 0) return []
  const last = Math.floor(Math.max(...samples.map((s) => s.end)) / 1000)
  const first = Math.floor(Math.min(...samples.map((s) => s.end)) / 1000)
  const rows = Array.from({ length: last - first + 1 }, (_, i) => ({ t: first + i, ok: 0, failed: 0 }))
  for (const s of samples) {
    const row = rows[Math.floor(s.end / 1000) - first]
    if (s.ok) row.ok++
    else row.failed++
  }
  return rows
}

export function measure(input: MeasureInput): WriteFigures {
  const acked = input.samples.filter((s) => s.ok)
  const missing = acked.filter((s) => !input.present.has(s.seq))
  const inBudget = (s: WriteSample) =>
    input.lossBudget === 'after-backup' && input.recoveryPointAt !== undefined && s.end >= input.recoveryPointAt
  const lost = missing.filter((s) => !inBudget(s))
  const o = outage(input.samples, input.faultAt, input.recoveryAt)
  const name = (seq: number) => `${input.prefix ?? ''}${String(seq).padStart(8, '0')}`
  return {
    attempted: input.samples.length,
    acknowledged: acked.length,
    lost: lost.length,
    lostWithinBudget: missing.length - lost.length,
    lostKeys: lost.slice(0, input.listLost ?? 50).map((s) => name(s.seq)),
    rate: ratePerSecond(input.samples),
    firstFailureAfterFault: o.firstFailure,
    firstAckAfterRecovery: o.firstAckAfter,
  }
}

/** The writer's key names back to sequence numbers. */
export function sequencesOf(keys: string[], prefix: string): Set<number> {
  const out = new Set<number>()
  for (const k of keys) {
    if (!k.startsWith(prefix)) continue
    const n = Number(k.slice(prefix.length))
    if (Number.isInteger(n)) out.add(n)
  }
  return out
}
