// Is the newest backup recent enough? Older than twice the schedule's interval means at least one scheduled run
// failed or never happened — the silent failure other tools' users complain about. Pure.
import { scheduleIntervalMs } from './schedule.ts'

export type Severity = 'ok' | 'warn' | 'fail'

export interface Finding {
  check: string
  severity: Severity
  subject: string
  message: string
  hint?: string
}

export function backupFreshness(o: { store: string; newest?: { id: string; createdAt: string }; schedule?: string; now: Date }): Finding {
  const check = 'backup-freshness'
  const subject = `store ${o.store}`
  const limitMs = 2 * (o.schedule ? scheduleIntervalMs(o.schedule, o.now) : 24 * 3_600_000)
  const every = o.schedule ? `the schedule "${o.schedule}"` : 'a daily backup (no backup.schedule set)'
  if (!o.newest) {
    return { check, severity: 'warn', subject, message: `no backup in store "${o.store}"`, hint: `run \`dr backup now --store ${o.store}\`, then \`dr backup schedule --install systemd\`` }
  }
  const ageMs = o.now.getTime() - new Date(o.newest.createdAt).getTime()
  const hours = (ms: number) => `${(ms / 3_600_000).toFixed(1)} h`
  if (ageMs > limitMs) {
    return {
      check,
      severity: 'warn',
      subject,
      message: `the newest backup ${o.newest.id} is ${hours(ageMs)} old, more than twice ${every} (${hours(limitMs)})`,
      hint: 'scheduled backups are failing or not running: check `systemctl status dr-backup-*` or the cron log, and dr_backup_failures_total',
    }
  }
  return { check, severity: 'ok', subject, message: `newest backup ${o.newest.id} is ${hours(ageMs)} old (limit ${hours(limitMs)})` }
}
