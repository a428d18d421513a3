// Writing the schedule onto this machine: systemd units (then daemon-reload + enable when systemd runs here) or a
// cron.d file. Without --install it only renders what it would write.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { DrError } from '../core/error.ts'
import type { Inventory } from '../inventory/types.ts'
import { cronFile, parseCron, systemdUnits, unitName, type ScheduleSpec } from './schedule.ts'

const run = promisify(execFile)

/** The project root (where bin/dr.js lives). */
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..')

/**
 * What bin/dr.js's first line, `#!/usr/bin/env -S [NAME=VALUE…] node [flags…]`, starts dr with: the environment
 * (MALLOC_ARENA_MAX) and the node flags (the small young generation) that keep a backup's memory down. A scheduled
 * run starts node itself, so it passes both; so does scripts/bench.
 */
export function drLaunch(bin = path.join(root, 'bin/dr.js')): { env: Record<string, string>; nodeFlags: string[] } {
  const first = fs.readFileSync(bin, 'utf8').split('\n')[0]
  const words = (/^#!\/usr\/bin\/env -S (.*)$/.exec(first)?.[1] ?? 'node').trim().split(/\s+/)
  const node = words.indexOf('node')
  const env = Object.fromEntries(words.slice(0, node).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]))
  return { env, nodeFlags: words.slice(node + 1) }
}

/** The argv that runs dr as its first line does, for a command line of our own (systemd, cron). */
export function drArgv(bin = path.join(root, 'bin/dr.js')): string[] {
  const { env, nodeFlags } = drLaunch(bin)
  const assignments = Object.entries(env).map(([k, v]) => `${k}=${v}`)
  return [...(assignments.length > 0 ? ['/usr/bin/env', ...assignments] : []), process.execPath, ...nodeFlags, bin]
}

export function scheduleSpec(inv: Inventory, o: { cron?: string; store?: string; verify?: boolean; user?: string }): ScheduleSpec {
  const cron = o.cron ?? inv.backup.schedule
  if (!cron) throw new DrError({ code: 'backup.no-schedule', message: 'no cron expression', hint: 'pass --cron "0 */6 * * *" or set backup.schedule in the inventory', exit: 'usage' })
  parseCron(cron)
  return {
    cluster: inv.cluster,
    cron,
    dr: drArgv(),
    inventory: inv.file,
    workingDir: root,
    store: o.store,
    verify: o.verify,
    user: o.user,
    logFile: path.join(inv.stateDir, 'backups', 'scheduled.log'),
  }
}

export interface ScheduleResult {
  kind: 'systemd' | 'cron'
  installed: boolean
  files: Array<{ path: string; content: string }>
  notes: string[]
}

export async function installSchedule(spec: ScheduleSpec, o: { install?: 'systemd' | 'cron'; unitDir: string; cronDir: string; plan?: boolean }): Promise<ScheduleResult> {
  const kind = o.install ?? 'systemd'
  const files: Array<{ path: string; content: string }> = []
  if (kind === 'systemd') {
    const u = systemdUnits(spec)
    files.push({ path: path.join(o.unitDir, u.serviceFile), content: u.service }, { path: path.join(o.unitDir, u.timerFile), content: u.timer })
  } else {
    const c = cronFile(spec)
    files.push({ path: path.join(o.cronDir, c.name), content: c.content })
  }
  const notes: string[] = []
  if (o.install && o.plan) {
    notes.push(`# plan only: nothing written; without --plan, --install ${kind} writes ${files.length === 1 ? 'this file' : 'these files'}${kind === 'systemd' ? ' and enables the timer' : ''}`)
    return { kind, installed: false, files, notes }
  }
  if (!o.install) {
    notes.push(`# nothing written; run again with --install ${kind} to write ${files.length === 1 ? 'this file' : 'these files'}${kind === 'systemd' ? ' (or --install cron)' : ''}`)
    return { kind, installed: false, files, notes }
  }
  for (const f of files) {
    await fsp.mkdir(path.dirname(f.path), { recursive: true })
    const tmp = `${f.path}.${process.pid}.tmp`
    await fsp.writeFile(tmp, f.content, { mode: 0o644 })
    await fsp.rename(tmp, f.path)
  }
  if (kind === 'systemd') {
    const timer = `${unitName(spec.cluster)}.timer`
    if (fs.existsSync('/run/systemd/system')) {
      await run('systemctl', ['daemon-reload'])
      await run('systemctl', ['enable', '--now', timer])
      notes.push(`enabled ${timer}; see \`systemctl list-timers ${timer}\``)
    } else {
      notes.push(`systemd is not running on this machine; where it is: systemctl daemon-reload && systemctl enable --now ${timer}`)
    }
  } else {
    notes.push('cron reads /etc/cron.d by itself; the first run is at the next scheduled time')
  }
  return { kind, installed: true, files, notes }
}
