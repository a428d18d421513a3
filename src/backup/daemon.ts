// `dr backup daemon`: the scheduled run in the foreground (for containers). Sleeps until the next cron time,
// runs, repeats. SIGTERM/SIGINT (the signal passed in) ends the sleep at once, or aborts a run in progress —
// temporary objects are removed and nothing half-written becomes visible — and then it returns.
import { nextRun } from './schedule.ts'
import { sleep } from './upload.ts'

export interface DaemonOptions {
  cron: string
  run: (signal: AbortSignal) => Promise<void>
  signal: AbortSignal
  onSchedule?: (next: Date) => void
  onError?: (e: unknown) => void
  now?: () => Date
}

export async function runDaemon(o: DaemonOptions): Promise<{ runs: number; failures: number }> {
  let runs = 0
  let failures = 0
  const now = o.now ?? (() => new Date())
  nextRun(o.cron) // a bad expression fails before the first sleep
  while (!o.signal.aborted) {
    const next = nextRun(o.cron, now())
    o.onSchedule?.(next)
    try {
      // In slices: setTimeout cannot wait longer than ~24 days, and the clock may jump.
      while (now() < next) await sleep(Math.min(next.getTime() - now().getTime(), 3_600_000), o.signal)
    } catch {
      break // stopped while waiting
    }
    runs++
    try {
      await o.run(o.signal)
    } catch (e) {
      if (o.signal.aborted) break
      failures++
      o.onError?.(e)
    }
  }
  return { runs, failures }
}
