// Scheduled backups on the operator host: a systemd service + timer, or a cron.d line, each running
// `dr backup now` then `dr backup prune`. The cron expression is parsed once (cron-parser) and turned into explicit
// systemd OnCalendar values, so both schedulers fire at exactly the same times.
import { CronExpressionParser } from 'cron-parser'
import { DrError } from '../core/error.ts'
import { quote } from '../transport/shell.ts'

export interface ScheduleSpec {
  cluster: string
  cron: string
  /** argv of dr itself: [node, /path/bin/dr.js]. */
  dr: string[]
  inventory: string
  workingDir: string
  store?: string
  verify?: boolean
  user?: string
  logFile?: string
}

const DOW = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']

interface CronFields {
  minute: number[]
  hour: number[]
  dayOfMonth: number[]
  month: number[]
  dayOfWeek: number[]
  domWildcard: boolean
  dowWildcard: boolean
  monthWildcard: boolean
}

export function parseCron(expr: string): CronFields {
  const bad = (why: string) =>
    new DrError({ code: 'backup.bad-cron', message: `"${expr}" is not a usable cron expression: ${why}`, hint: 'five fields: minute hour day-of-month month day-of-week, e.g. "0 */6 * * *"', exit: 'usage' })
  if (expr.trim().split(/\s+/).length !== 5) throw bad('it must have exactly five fields')
  if (/[LW#?]/i.test(expr.replace(/[a-z]{3}/gi, (m) => (DOW.map((d) => d.toLowerCase()).includes(m.toLowerCase()) || /^(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)$/i.test(m) ? '0' : m)))) {
    throw bad('L, W, # and ? are not supported by cron(8)')
  }
  let f
  try {
    f = CronExpressionParser.parse(expr, { tz: 'UTC' }).fields
  } catch (e) {
    throw bad((e as Error).message)
  }
  const dow = [...new Set(f.dayOfWeek.values.map((d) => Number(d) % 7))].sort((a, b) => a - b)
  return {
    minute: f.minute.values.map(Number),
    hour: f.hour.values.map(Number),
    dayOfMonth: f.dayOfMonth.values.map(Number),
    month: f.month.values.map(Number),
    dayOfWeek: dow,
    domWildcard: f.dayOfMonth.isWildcard,
    dowWildcard: f.dayOfWeek.isWildcard || dow.length === 7,
    monthWildcard: f.month.isWildcard,
  }
}

const two = (n: number) => String(n).padStart(2, '0')
const list = (ns: number[]) => ns.map(two).join(',')

/**
 * systemd OnCalendar= lines for a cron expression. cron fires when day-of-month OR day-of-week matches (when both
 * are restricted); systemd ANDs them, so that case becomes two lines, which systemd ORs.
 */
export function onCalendar(expr: string): string[] {
  const f = parseCron(expr)
  const time = `${list(f.hour)}:${list(f.minute)}:00`
  const month = f.monthWildcard ? '*' : list(f.month)
  const dom = f.domWildcard ? '*' : list(f.dayOfMonth)
  const dow = f.dowWildcard ? '' : f.dayOfWeek.map((d) => DOW[d]).join(',') + ' '
  if (!f.domWildcard && !f.dowWildcard) return [`*-${month}-${dom} ${time}`, `${dow}*-${month}-* ${time}`]
  return [`${dow}*-${month}-${dom} ${time}`]
}

/** The longest gap between two consecutive runs over the next `samples` runs (for freshness checks). */
export function scheduleIntervalMs(expr: string, from = new Date(), samples = 64): number {
  parseCron(expr)
  const it = CronExpressionParser.parse(expr, { currentDate: from })
  let prev = it.next().getTime()
  let max = 0
  for (let i = 0; i < samples; i++) {
    const next = it.next().getTime()
    max = Math.max(max, next - prev)
    prev = next
  }
  return max
}

export function nextRun(expr: string, from = new Date()): Date {
  parseCron(expr)
  return CronExpressionParser.parse(expr, { currentDate: from }).next().toDate()
}

/** The two commands a scheduled run executes, as argv arrays. */
export function runCommands(s: ScheduleSpec): string[][] {
  const base = [...s.dr, '-i', s.inventory, 'backup']
  const store = s.store ? ['--store', s.store] : []
  return [
    [...base, 'now', ...store, ...(s.verify ? ['--verify'] : [])],
    [...base, 'prune', ...store],
  ]
}

/** systemd's own quoting for ExecStart= words: double quotes, `\` escapes, `%` and `$` doubled. */
export function systemdWord(w: string): string {
  const escaped = w.replace(/%/g, '%%').replace(/\$/g, '$$$$')
  return /^[A-Za-z0-9_\/.,:=@+-]+$/.test(escaped) ? escaped : `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
}

export const unitName = (cluster: string) => `dr-backup-${cluster.replace(/[^A-Za-z0-9:_.-]/g, '_')}`

export function systemdUnits(s: ScheduleSpec): { service: string; timer: string; serviceFile: string; timerFile: string } {
  const name = unitName(s.cluster)
  const exec = runCommands(s).map((argv) => `ExecStart=${argv.map(systemdWord).join(' ')}`)
  const service = [
    '[Unit]',
    `Description=dr: etcd backup of cluster ${s.cluster}, then prune`,
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=oneshot',
    `WorkingDirectory=${s.workingDir}`,
    `Environment=DR_INVENTORY=${systemdWord(s.inventory)}`,
    ...(s.user ? [`User=${s.user}`] : []),
    'UMask=0077',
    ...exec,
    '',
  ].join('\n')
  const timer = [
    '[Unit]',
    `Description=dr: scheduled etcd backups of cluster ${s.cluster} (cron "${s.cron}")`,
    '',
    '[Timer]',
    ...onCalendar(s.cron).map((c) => `OnCalendar=${c}`),
    'Persistent=true',
    'RandomizedDelaySec=30',
    `Unit=${name}.service`,
    '',
    '[Install]',
    'WantedBy=timers.target',
    '',
  ].join('\n')
  return { service, timer, serviceFile: `${name}.service`, timerFile: `${name}.timer` }
}

/** A /etc/cron.d line (with the user field). cron treats `%` as a newline, so it is escaped. */
export function cronLine(s: ScheduleSpec): string {
  parseCron(s.cron)
  const log = s.logFile ? ` >>${quote(s.logFile)} 2>&1` : ''
  const cmds = runCommands(s).map((argv) => argv.map(quote).join(' ') + log)
  const line = `cd ${quote(s.workingDir)} && umask 077 && ${cmds.join(' && ')}`
  return `${s.cron} ${s.user ?? 'root'} ${line.replace(/%/g, '\\%')}\n`
}

export function cronFile(s: ScheduleSpec): { name: string; content: string } {
  return {
    name: unitName(s.cluster).replace(/\./g, '_'), // cron.d ignores file names with dots
    content: `# Written by \`dr backup schedule\`: etcd backups of cluster ${s.cluster}, then prune.\nSHELL=/bin/sh\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n${cronLine(s)}`,
  }
}
