import t from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { cronFile, cronLine, onCalendar, parseCron, scheduleIntervalMs, systemdUnits, systemdWord, type ScheduleSpec } from '../../src/backup/schedule.ts'

const spec: ScheduleSpec = {
  cluster: 'lab',
  cron: '0 */6 * * *',
  dr: ['/usr/bin/node', '/opt/dr dir/bin/dr.js'],
  inventory: '/etc/dr/lab 100%.yaml',
  workingDir: '/opt/dr dir',
  verify: true,
  logFile: '/var/log/dr.log',
}

t.test('cron → systemd OnCalendar with explicit values', async (t) => {
  t.same(onCalendar('0 */6 * * *'), ['*-*-* 00,06,12,18:00:00'])
  t.same(onCalendar('30 2 * * 0'), ['Sun *-*-* 02:30:00'])
  t.same(onCalendar('15 3 1 * *'), ['*-*-01 03:15:00'])
  t.same(onCalendar('0 0 * 1,7 *'), ['*-01,07-* 00:00:00'])
  // cron ORs day-of-month and day-of-week when both are set; systemd ANDs, so two lines (ORed by systemd)
  t.same(onCalendar('0 4 1 * 1-5'), ['*-*-01 04:00:00', 'Mon,Tue,Wed,Thu,Fri *-*-* 04:00:00'])
  t.same(onCalendar('0 4 * * 7'), ['Sun *-*-* 04:00:00'])
  const sa = spawnSync('systemd-analyze', ['calendar', ...onCalendar('*/20 1-3 * * 1,3')], { encoding: 'utf8' })
  if (sa.error) t.comment('skipped: systemd-analyze not installed')
  else t.equal(sa.status, 0, `systemd-analyze calendar accepts it: ${sa.stderr}`)
})

t.test('bad expressions are refused with a hint', async (t) => {
  for (const bad of ['0 */6 * *', '0 0 L * *', '61 * * * *', '0 0 * * 1#2', 'every day']) t.throws(() => parseCron(bad), { code: 'backup.bad-cron' }, bad)
})

t.test('interval for freshness', async (t) => {
  t.equal(scheduleIntervalMs('0 */6 * * *', new Date('2026-11-21T00:00:00Z')), 6 * 3_600_000)
  t.equal(scheduleIntervalMs('0 3 * * 1-5', new Date('2026-11-21T00:00:00Z')), 3 * 86_400_000, 'Friday → Monday is the longest gap')
})

t.test('systemd units: quoting, two ExecStart lines, and systemd-analyze verify', async (t) => {
  const u = systemdUnits(spec)
  t.equal(u.serviceFile, 'dr-backup-lab.service')
  t.match(u.service, /^Type=oneshot$/m)
  t.match(u.service, /^ExecStart=\/usr\/bin\/node "\/opt\/dr dir\/bin\/dr.js" -i "\/etc\/dr\/lab 100%%.yaml" backup now --verify$/m)
  t.match(u.service, /^ExecStart=\/usr\/bin\/node "\/opt\/dr dir\/bin\/dr.js" -i "\/etc\/dr\/lab 100%%.yaml" backup prune$/m)
  t.match(u.timer, /^OnCalendar=\*-\*-\* 00,06,12,18:00:00$/m)
  t.match(u.timer, /^Unit=dr-backup-lab.service$/m)
  t.equal(systemdWord('a$b'), '"a$$b"')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-units-'))
  // verify needs the binaries to exist: point at real ones
  const real = systemdUnits({ ...spec, dr: [process.execPath, path.resolve('bin/dr.js')], workingDir: dir, inventory: path.join(dir, 'inv.yaml') })
  fs.writeFileSync(path.join(dir, real.serviceFile), real.service)
  fs.writeFileSync(path.join(dir, real.timerFile), real.timer)
  const v = spawnSync('systemd-analyze', ['verify', path.join(dir, real.serviceFile), path.join(dir, real.timerFile)], { encoding: 'utf8' })
  if (v.error) t.comment('skipped: systemd-analyze not installed')
  else {
    const complaints = (v.stderr + v.stdout).split('\n').filter((l) => /dr-backup/.test(l))
    t.same(complaints, [], `systemd-analyze verify has no complaint about our units:\n${v.stderr}`)
  }
  fs.rmSync(dir, { recursive: true })
})

t.test('cron.d line: user field, % escaped, arguments quoted for sh', async (t) => {
  const line = cronLine(spec)
  t.ok(line.startsWith('0 */6 * * * root cd '))
  t.notMatch(line.replace(/\\%/g, ''), /%/, 'every % is escaped for cron')
  // Run the command part through sh exactly as cron would (after un-escaping %), with echo standing in for node.
  const cmd = line.replace(/^(\S+\s+){6}/, '').replace(/\\%/g, '%').trim()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-cron-'))
  const fake = { ...spec, dr: ['printf', '[%s]'], workingDir: dir, logFile: path.join(dir, 'log') }
  const fakeCmd = cronLine(fake).replace(/^(\S+\s+){6}/, '').replace(/\\%/g, '%').trim()
  execFileSync('sh', ['-c', fakeCmd])
  t.equal(fs.readFileSync(path.join(dir, 'log'), 'utf8'), '[-i][/etc/dr/lab 100%.yaml][backup][now][--verify][-i][/etc/dr/lab 100%.yaml][backup][prune]')
  t.match(cmd, /backup now --verify/)
  const f = cronFile(spec)
  t.notMatch(f.name, /\./, 'cron.d ignores names with dots')
  fs.rmSync(dir, { recursive: true })
})
