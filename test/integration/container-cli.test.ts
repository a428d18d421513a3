// `dr container run-command` and `dr container recreate` as an operator runs them, on the local docker.
import fs from 'node:fs'
import t from 'tap'
import { runLocal } from '../../src/transport/local.ts'
import { ensureTestImages, removeTestContainers } from '../helpers/docker-image.ts'

t.setTimeout(120_000)
const P = 'drtest-cli-'
const name = `${P}etcd`
const PWNED = `/tmp/dr-pwned-cli-${process.pid}`
const dr = (...args: string[]) => runLocal(['node', 'bin/dr.js', ...args])

t.before(async () => {
  await ensureTestImages()
  await removeTestContainers(P)
  const r = await runLocal(['docker', 'run', '-d', `--name=${name}`, '--label=dr.test=1', '--restart=always', 'drtest-img:bare', '/usr/local/bin/etcd', '--name=a', '--initial-cluster=a=https://10.0.0.1:2380,b=https://10.0.0.2:2380', `--x=$(touch ${PWNED})`])
  if (!r.ok) throw new Error(r.stderr)
})
t.teardown(() => removeTestContainers(P))

t.test('run-command prints a command bash runs; --json prints the argv', async (t) => {
  const human = await dr('container', 'run-command', name, '--local', '--as', `${P}copy`)
  t.equal(human.exitCode, 0, human.stderr)
  t.match(human.stdout, /^docker run -d \\\n {2}--name=drtest-cli-copy \\\n/)
  const ran = await runLocal(human.stdout)
  t.ok(ran.ok, ran.stderr)
  const args = JSON.parse((await runLocal(['docker', 'inspect', '--format', '{{json .Args}}', `${P}copy`])).stdout)
  t.same(args, ['--name=a', '--initial-cluster=a=https://10.0.0.1:2380,b=https://10.0.0.2:2380', `--x=$(touch ${PWNED})`])
  const json = await dr('container', 'run-command', name, '--local', '--json')
  t.same(JSON.parse(json.stdout).argv.slice(0, 5), ['docker', 'run', '-d', `--name=${name}`, '--restart=always'])
  t.equal((await dr('container', 'run-command', name)).exitCode, 2, 'no --local/--host: usage error')
  t.notOk(fs.existsSync(PWNED), 'nothing ran')
})

t.test('recreate: --plan changes nothing, no terminal and no --yes refuses (3), --yes applies', async (t) => {
  const edit = ['--set-arg', 'initial-cluster=a=https://10.0.0.1:2380', '--add-arg', '--force-new-cluster', '--keep-running', '1000']
  const id = (await runLocal(['docker', 'inspect', '--format', '{{.Id}}', name])).stdout.trim()
  const plan = await dr('container', 'recreate', name, '--local', ...edit, '--plan')
  t.equal(plan.exitCode, 0, plan.stderr)
  t.match(plan.stdout, /add argument --force-new-cluster/)
  t.match(plan.stdout, /remove argument --initial-cluster=a=https:\/\/10.0.0.1:2380,b=/)
  const refused = await dr('container', 'recreate', name, '--local', ...edit)
  t.equal(refused.exitCode, 3)
  t.match(refused.stderr, /confirm.required/)
  t.equal((await runLocal(['docker', 'inspect', '--format', '{{.Id}}', name])).stdout.trim(), id, 'untouched')
  const applied = await dr('container', 'recreate', name, '--local', ...edit, '--yes', '--json')
  t.equal(applied.exitCode, 0, applied.stderr)
  const res = JSON.parse(applied.stdout)
  t.match(res.oldName, new RegExp(`^${name}-old-\\d{8}T\\d{6}Z$`))
  const args = JSON.parse((await runLocal(['docker', 'inspect', '--format', '{{json .Args}}', name])).stdout)
  t.same(args, ['--name=a', '--initial-cluster=a=https://10.0.0.1:2380', `--x=$(touch ${PWNED})`, '--force-new-cluster'])
  t.notOk(fs.existsSync(PWNED), 'nothing ran')
})
