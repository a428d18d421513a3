// `dr backup daemon`: the scheduled run in the foreground (for containers). Sleeps until the next cron time,
// runs, repeats. SIGTERM/SIGINT (the signal passed in) ends the sleep at once, or aborts a run in progress —
// temporary objects are removed and nothing half-written becomes visible — and then it returns. A daemon whose runs
// keep failing must not look healthy to its supervisor: after `maxFailures` failed runs in a row it gives up, and
// the caller exits non-zero (so does a daemon stopped right after a failed run).
import { nextRun } from './schedule.ts'
import { sleep } from './upload.ts'

export interface DaemonOptions {
  cron: string
  run: (signal: AbortSignal) => Promise<void>
  signal: AbortSignal
  onSchedule?: (next: Date) => void
  onError?: (e: unknown) => void
  now?: () => Date
  /** Give up after this many failed runs in a row (default 3). */
  maxFailures?: number
  /** Run once at start, before waiting for the first scheduled time. */
  runAtStart?: boolean
}

export interface DaemonResult {
  runs: number
  failures: number
  /** Failed runs since the last good one. */
  consecutiveFailures: number
  /** Stopped because maxFailures runs in a row failed. */
  gaveUp: boolean
}

export async function runDaemon(o: DaemonOptions): Promise<DaemonResult> {
  let runs = 0
  let failures = 0
  let consecutiveFailures = 0
  const maxFailures = o.maxFailures ?? 3
  const now = o.now ?? (() => new Date())
  nextRun(o.cron) // a bad expression fails before the first sleep
  let first = true
  while (!o.signal.aborted) {
    if (!(first && o.runAtStart)) {
      const next = nextRun(o.cron, now())
      o.onSchedule?.(next)
      try {
        // In slices: setTimeout cannot wait longer than ~24 days, and the clock may jump.
        while (now() < next) await sleep(Math.min(next.getTime() - now().getTime(), 3_600_000), o.signal)
      } catch {
        break // stopped while waiting: the signal is the only thing that rejects this sleep
      }
    }
    first = false
    runs++
    try {
      await o.run(o.signal)
      consecutiveFailures = 0
    } catch (e) {
      if (o.signal.aborted) break
      failures++
      consecutiveFailures++
      o.onError?.(e)
      if (consecutiveFailures >= maxFailures) return { runs, failures, consecutiveFailures, gaveUp: true }
    }
  }
  return { runs, failures, consecutiveFailures, gaveUp: false }
}
