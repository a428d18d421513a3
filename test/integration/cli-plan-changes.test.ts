// The commands that change something and honour --plan, each run with --plan against real things (a TLS etcd
// reached over a real sshd, the local docker, files): afterwards nothing has changed. And `backup daemon` exits
// non-zero when its runs fail (an unreachable store), so a supervisor sees it.
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { startEtcd, freePort, type EtcdCluster } from '../helpers/etcd.ts'
import { startSshd, type Sshd } from '../helpers/sshd.ts'
import { dr, ROOT } from '../helpers/dr.ts'
import { labName } from '../helpers/lab.ts'

t.setTimeout(600_000)
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-plan-changes-'))
let etcd: EtcdCluster
let sshd: Sshd
let inv: string

t.before(async () => {
  etcd = await startEtcd({ members: 1, tls: true })
  sshd = await startSshd()
  fs.writeFileSync(path.join(scratch, 'known_hosts'), sshd.knownHostsLine + '\n')
  inv = path.join(scratch, 'inv.yaml')
  fs.writeFileSync(inv, `cluster: plan
flavor: rke
ssh: { user: ${sshd.user}, identityFile: ${sshd.userKeyPath}, knownHosts: known_hosts, connectTimeoutMs: 1000 }
etcd: { clientPort: ${new URL(etcd.endpoints[0]).port}, caFile: ${etcd.tls!.caFile}, certFile: ${etcd.tls!.certFile}, keyFile: ${etcd.tls!.keyFile} }
sites:
  A: { hosts: [m1] }
  B: { hosts: [far] }
hosts:
  m1: { address: 127.0.0.1, roles: [etcd, controlplane], ssh: { port: ${sshd.port} } }
  far: { address: 127.0.0.1, roles: [worker], ssh: { port: ${await freePort()} } }
backup:
  stores:
    local: { type: dir, path: store }
    offsite: { type: sftp, host: far, path: /var/backups/dr }
  defaultStore: local
  schedule: "0 */6 * * *"
  metricsFile: metrics/dr.prom
stateDir: state
`)
})
t.teardown(async () => {
  await sshd?.stop()
  await etcd?.stop()
  fs.rmSync(scratch, { recursive: true, force: true })
})

/** Every file under the scratch dir (what a command could have written). */
const files = () => execFileSync('find', [scratch, '-type', 'f', '-newer', inv], { encoding: 'utf8' }).split('\n').filter(Boolean).sort()

t.test('commands that change something, with --plan: nothing changes', async (t) => {
  const before = files()
  const now = await dr(['-i', inv, 'backup', 'now', '--plan'])
  t.equal(now.code, 0, now.stderr)
  t.match(now.stdout, /Plan: snapshot m1 \(.*\) into store "local" \(dir\)/)
  t.match(now.stdout, /plan only: nothing was taken or written/)

  const unitDir = path.join(scratch, 'units')
  const sched = await dr(['-i', inv, 'backup', 'schedule', '--install', 'systemd', '--unit-dir', unitDir, '--plan'])
  t.equal(sched.code, 0, sched.stderr)
  t.match(sched.stdout, /plan only: nothing written/)
  const cron = await dr(['-i', inv, 'backup', 'schedule', '--install', 'cron', '--cron-dir', path.join(scratch, 'cron.d'), '--plan'])
  t.equal(cron.code, 0, cron.stderr)

  const out = path.join(scratch, 'imported.yaml')
  const imp = await dr(['inventory', 'import-rke', path.join(ROOT, 'inventories/examples/rke-cluster.yml'), '--site', 'A=master1,master2,node1', '--site', 'B=master3,node2', '-o', out, '--plan'])
  t.equal(imp.code, 0, imp.stderr)
  t.match(imp.stdout, new RegExp(`plan only: would write ${out.replace(/[.]/g, '\\.')}`))

  const marker = path.join(scratch, 'made-by-runbook')
  const rb = path.join(scratch, 'touch.mjs')
  fs.writeFileSync(rb, `export default ({ $, args }) => [{ id: 'touch', title: 'Create the marker', check: async () => ((await $\`test -e \${args.file}\`.nothrow()).exitCode === 0 ? [] : 'create ' + args.file), apply: async () => { await $\`touch \${args.file}\` } }]\n`)
  const run = await dr(['-i', inv, 'run', rb, '--plan', '--', '--file', marker])
  t.equal(run.code, 0, run.stderr)
  t.match(run.stdout, /Create the marker/)
  t.equal(files().join('\n'), [...before, rb].sort().join('\n'), 'no file was written by any of them')

  // lab down --plan on a "lab" of one labelled volume: listed, kept; then removed for real.
  const lab = labName('plan-down')
  execFileSync('docker', ['volume', 'create', '--label', `dr.lab=${lab}`, `dr-lab-${lab}-vol`])
  t.teardown(() => void execFileSync('docker', ['volume', 'rm', '-f', `dr-lab-${lab}-vol`]))
  const down = await dr(['lab', 'down', '--name', lab, '--plan'])
  t.equal(down.code, 0, down.stderr)
  t.match(down.stdout, new RegExp(`would remove 0 containers, 1 volumes, 0 networks \\(plan only: nothing removed\\)\\n  dr-lab-${lab}-vol`))
  t.match(execFileSync('docker', ['volume', 'ls', '-q', '--filter', `label=dr.lab=${lab}`], { encoding: 'utf8' }), `dr-lab-${lab}-vol`, 'still there')
  const really = await dr(['lab', 'down', '--name', lab])
  t.equal(really.code, 0, really.stderr)
  t.equal(execFileSync('docker', ['volume', 'ls', '-q', '--filter', `label=dr.lab=${lab}`], { encoding: 'utf8' }).trim(), '', 'the plan named what lab down removes')
})

t.test('backup daemon with an unreachable store: exits 1 after --max-failures failed runs', async (t) => {
  const r = await dr(['-i', inv, 'backup', 'daemon', '--store', 'offsite', '--cron', '0 0 1 1 *', '--run-now', '--max-failures', '1'], { timeoutMs: 180_000 })
  t.equal(r.code, 1, `a supervisor sees the failure (exit ${r.code})`)
  t.match(r.stderr, /backup run failed: could not write .* to store "offsite"/)
  t.match(r.stderr, /error\[backup\.daemon-failing\]: the last 1 backup run\(s\) in a row failed; giving up/)
  t.match(fs.readFileSync(path.join(scratch, 'metrics', 'dr.prom'), 'utf8'), /^dr_backup_failures_total\{cluster="plan",store="offsite"\} 1$/m)
})
