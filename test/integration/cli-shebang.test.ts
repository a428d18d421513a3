// `dr` is bin/dr.js run through its `#!/usr/bin/env -S node <flags>` line (npm links the command to it): the line
// must start dr, and env must hand node the flags (a shebang passes everything after the interpreter as one word;
// -S splits it).
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'

const DR = path.resolve(import.meta.dirname, '../../bin/dr.js')
const shebang = fs.readFileSync(DR, 'utf8').split('\n')[0]

t.test('bin/dr.js runs as a program, through its own first line', async (t) => {
  t.match(shebang, /^#!\/usr\/bin\/env -S node( --[a-z-]+=\S+)*$/, 'env -S node with its flags')
  t.ok(fs.statSync(DR).mode & 0o111, 'executable')
  const r = spawnSync(DR, ['--version'], { encoding: 'utf8' })
  t.equal(r.status, 0, r.stderr)
  t.match(r.stdout.trim(), /^\d+\.\d+\.\d+/, 'its version')
})

t.test('node gets the flags of that line, each as its own argument', async (t) => {
  const flags = shebang.replace(/^#!\/usr\/bin\/env -S node\s*/, '')
  t.match(flags, /--max-semi-space-size=1/, 'the small young generation (the backup memory aim)')
  const argv = JSON.parse(execFileSync('/usr/bin/env', ['-S', `node ${flags}`, '-e', 'console.log(JSON.stringify(process.execArgv))'], { encoding: 'utf8' }))
  t.same(argv.slice(0, flags.split(/\s+/).length), flags.split(/\s+/))
})

t.test('a scheduled backup starts node with the same flags (it runs node itself, not the first line)', async (t) => {
  const { drNodeFlags, scheduleSpec } = await import('../../src/backup/schedule-install.ts')
  t.same(drNodeFlags(), shebang.replace(/^#!\/usr\/bin\/env -S node\s*/, '').split(/\s+/))
  const spec = scheduleSpec({ cluster: 'c', file: '/etc/dr/c.yaml', stateDir: '/var/lib/dr', backup: { schedule: '0 */6 * * *' } } as never, {})
  t.same(spec.dr, [process.execPath, ...drNodeFlags(), DR], 'node, the flags, bin/dr.js')
})
