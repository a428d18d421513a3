// `dr` is bin/dr.js run through its `#!/usr/bin/env -S NAME=VALUE node <flags>` line (npm links the command to it):
// the line must start dr, and env must hand node the environment and the flags (a shebang passes everything after
// the interpreter as one word; -S splits it).
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'

const DR = path.resolve(import.meta.dirname, '../../bin/dr.js')
const shebang = fs.readFileSync(DR, 'utf8').split('\n')[0]

t.test('bin/dr.js runs as a program, through its own first line', async (t) => {
  t.match(shebang, /^#!\/usr\/bin\/env -S ([A-Z_]+=\S+ )*node( --[a-z-]+=\S+)*$/, 'env -S, the environment, node with its flags')
  t.ok(fs.statSync(DR).mode & 0o111, 'executable')
  const r = spawnSync(DR, ['--version'], { encoding: 'utf8' })
  t.equal(r.status, 0, r.stderr)
  t.match(r.stdout.trim(), /^\d+\.\d+\.\d+/, 'its version')
})

t.test('node gets the environment and the flags of that line, each flag as its own argument', async (t) => {
  const words = shebang.replace(/^#!\/usr\/bin\/env -S /, '')
  const flags = words.replace(/^.*\bnode\s*/, '')
  t.match(flags, /--max-semi-space-size=1/, 'the small young generation (the backup memory aim)')
  t.match(words, /^MALLOC_ARENA_MAX=1 node /, 'one malloc arena (the backup memory aim)')
  const seen = JSON.parse(execFileSync('/usr/bin/env', ['-S', words, '-e', 'console.log(JSON.stringify([process.execArgv, process.env.MALLOC_ARENA_MAX]))'], { encoding: 'utf8' }))
  t.same(seen[0].slice(0, flags.split(/\s+/).length), flags.split(/\s+/))
  t.equal(seen[1], '1')
})

t.test('a scheduled backup starts node as that line does (it runs node itself, not the first line)', async (t) => {
  const { drLaunch, scheduleSpec } = await import('../../src/backup/schedule-install.ts')
  t.same(drLaunch(), { env: { MALLOC_ARENA_MAX: '1' }, nodeFlags: shebang.replace(/^.*\bnode\s*/, '').split(/\s+/) })
  const spec = scheduleSpec({ cluster: 'c', file: '/etc/dr/c.yaml', stateDir: '/var/lib/dr', backup: { schedule: '0 */6 * * *' } } as never, {})
  t.same(spec.dr, ['/usr/bin/env', 'MALLOC_ARENA_MAX=1', process.execPath, ...drLaunch().nodeFlags, DR], 'env with the environment, node, the flags, bin/dr.js')
  // What systemd or cron would run: the same environment and flags reach node.
  const seen = JSON.parse(execFileSync(spec.dr[0], [...spec.dr.slice(1, -1), '-e', 'console.log(JSON.stringify([process.execArgv, process.env.MALLOC_ARENA_MAX]))'], { encoding: 'utf8' }))
  t.same([seen[0].slice(0, drLaunch().nodeFlags.length), seen[1]], [drLaunch().nodeFlags, '1'])
})
