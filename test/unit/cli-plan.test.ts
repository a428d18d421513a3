// "--plan means nothing changes, everywhere": every command in `dr --help` declares what it does with --plan;
// the ones that cannot show a plan refuse it (exit 2) before touching anything; numeric options are validated
// everywhere (a non-number, a negative or zero value → exit 2 naming the option).
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import type { Command } from 'commander'
import { buildProgram } from '../../src/cli/main.ts'
import { PLAN_POLICY, commandPath, checkNumber } from '../../src/cli/run.ts'
import { dr, ROOT } from '../helpers/dr.ts'
import { labName } from '../helpers/lab.ts'

t.setTimeout(600_000)

const leaves = (c: Command): Command[] => c.commands.flatMap((s) => (s.commands.length ? leaves(s) : [s]))
const commands = leaves(buildProgram()).map(commandPath)

t.test('every command in `dr --help` says what it does with --plan', async (t) => {
  t.ok(commands.length >= 25, `${commands.length} commands`)
  for (const c of commands) t.ok(PLAN_POLICY[c], `dr ${c}: ${JSON.stringify(PLAN_POLICY[c]) ?? 'NOT DECLARED in PLAN_POLICY (src/cli/run.ts)'}`)
})

/** Up to four `dr` processes at once: each start costs seconds on a busy machine. */
async function each<T>(items: T[], fn: (x: T) => Promise<void>) {
  let next = 0
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < items.length) await fn(items[next++])
  }))
}

const lab = labName('plan-never')
const inventory = path.join(ROOT, 'inventories', `${lab}.yaml`)
const refusedArgs: Record<string, string[]> = {
  'lab up': ['lab', 'up', '--name', lab],
  'lab stop-site': ['lab', 'stop-site', 'A', '--name', lab],
  'lab start-site': ['lab', 'start-site', 'A', '--name', lab],
  'lab partition': ['lab', 'partition', 'A', 'B', '--name', lab],
  'lab heal': ['lab', 'heal', '--name', lab],
  'lab ssh': ['lab', 'ssh', 'master1', '--name', lab, '--', 'touch', '/tmp/dr-plan-ssh'],
  'lab power': ['lab', 'power', 'off', 'master1', '--name', lab],
  'lab break': ['lab', 'break', 'nospace', '--name', lab],
  'backup daemon': ['backup', 'daemon', '--cron', '* * * * *', '--run-now'],
}

t.test('commands that cannot show a plan refuse --plan with exit 2, and do nothing', async (t) => {
  const refused = commands.filter((c) => typeof PLAN_POLICY[c] === 'object')
  t.same(refused.sort(), Object.keys(refusedArgs).sort(), 'each refusing command is exercised below')
  const labObjects = () => execFileSync('docker', ['ps', '-aq', '--filter', `label=dr.lab=${lab}`], { encoding: 'utf8' }) + execFileSync('docker', ['network', 'ls', '-q', '--filter', `label=dr.lab=${lab}`], { encoding: 'utf8' })
  await each(Object.entries(refusedArgs), async ([name, args]) => {
    const r = await dr(['--plan', ...args], { env: { DR_INVENTORY: '' } })
    t.equal(r.code, 2, `dr ${name} --plan: exit 2`)
    t.match(r.stderr, new RegExp(`error\\[usage\\.plan-unsupported\\]: \`dr ${name}\` cannot show a plan`), `dr ${name}: says why`)
  })
  t.equal(labObjects().trim(), '', 'no lab container or network was created')
  t.notOk(fs.existsSync(inventory), 'no lab inventory was written')
})

const numeric: Array<[string, string[], string]> = [
  ['status --timeout', ['status', '--timeout'], '--timeout'],
  ['container recreate --keep-running', ['container', 'recreate', 'etcd', '--local', '--keep-running'], '--keep-running'],
  ['backup now --retries', ['backup', 'now', '--retries'], '--retries'],
  ['lab up --workers', ['lab', 'up', '--name', lab, '--workers'], '--workers'],
  ['backup daemon --max-failures', ['backup', 'daemon', '--max-failures'], '--max-failures'],
]

t.test('numeric options: a non-number, a negative or a zero value is a usage error naming the option', async (t) => {
  const cases = numeric.flatMap(([name, args, flag]) => ['abc', '-1', '0'].filter((v) => !(flag === '--workers' && v === '0')).map((v) => ({ name, args: [...args, v], flag, v })))
  await each(cases, async ({ name, args, flag, v }) => {
    const r = await dr(args, { env: { DR_INVENTORY: '' } })
    t.equal(r.code, 2, `${name} ${v}: exit 2`)
    t.match(r.stderr, new RegExp(`error\\[usage\\.bad-number\\]: ${flag} "${v.replace(/[.]/g, '\\.')}"`), `${name} ${v}: the option is named`)
  })
  t.notOk(fs.existsSync(inventory), 'lab up with a bad --workers built nothing')
})

t.test('checkNumber', async (t) => {
  const rule = { unit: 'ms', min: 1 }
  t.equal(checkNumber('--timeout', '2500', rule), 2500)
  t.equal(checkNumber('--timeout', ' 10 ', rule), 10)
  for (const bad of ['', ' ', 'abc', '0', '-5', 'NaN', 'Infinity', '1e400', '10ms']) t.throws(() => checkNumber('--timeout', bad, rule), { code: 'usage.bad-number', exit: 'usage' }, JSON.stringify(bad))
  t.throws(() => checkNumber('--retries', '2.5', { unit: 'attempts', integer: true, min: 1 }), { message: /whole number/ })
  t.equal(checkNumber('--workers', '0', { unit: 'workers', integer: true, min: 0, max: 5 }), 0)
  t.throws(() => checkNumber('--workers', '6', { unit: 'workers', integer: true, min: 0, max: 5 }), { message: /from 0 to 5/ })
})
