// dr failover on the lab, end to end: refuse while quorum exists, --plan changes nothing, a crash after every
// step (and one in the middle of a container re-creation) still converges, every verification holds when
// checked from outside dr, a second run has nothing to do, and a returning site A stays fenced.
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { TestLab } from '../helpers/lab.ts'
import { dr as runDr } from '../helpers/dr.ts'
import { applied, journalledDone, planned } from '../helpers/plan-vs-apply.ts'

const KEYS = 300
const lab = new TestLab('e2e-failover')
const dr = lab.dr.bind(lab)
const nodeSh = lab.sh.bind(lab)
const etcdctl = lab.etcdctl.bind(lab)
const containerIds = lab.containerIds
const dataFiles = () => nodeSh('master3', 'find /var/lib/etcd -type f | sort; ls -d /var/lib/etcd* | sort')

t.before(async () => {
  await lab.fresh()
  await etcdctl('master1', ['put', '/registry/e2e/ready', 'yes'])
})
t.teardown(() => lab.down())

t.test('refuses while etcd has quorum, changing nothing', async (t) => {
  const before = await containerIds('master3')
  const r = await dr(['failover', '--site', 'B', '--yes'])
  t.equal(r.code, 3, 'exit 3: refused')
  t.match(r.stderr, /still has quorum/)
  t.equal(await containerIds('master3'), before)
})

t.test('the failover survives a crash after every step and verifies', async (t) => {
  await nodeSh('master1', `docker exec etcd sh -c 'for i in $(seq 1 ${KEYS}); do etcdctl put /registry/e2e/key-$i value-$i >/dev/null; done'`, 300_000)
  await lab.stopSite('A')

  const started = Date.now()
  const status = await dr(['status', '--json'])
  t.equal(status.code, 5, 'dr status exits 5 without quorum')
  const s = status.json()
  t.equal(s.verdict.hasQuorum, false, 'quorum lost')
  t.match(s.verdict.sites.find((x: any) => x.site === 'B'), { members: 1, of: 3 }, 'site B holds one of three members')
  t.ok(Date.now() - started < 15_000, 'verdict within 15 s')

  // --plan changes nothing at all.
  const ids = await containerIds('master3')
  const files = await dataFiles()
  const plan = await dr(['failover', '--site', 'B', '--plan', '--json'])
  t.equal(plan.code, 0, plan.stderr)
  const p = plan.json()
  t.match(p.description.join('\n'), /survivor: master3/)
  t.ok(p.steps.find((x: any) => x.id === 'force-new-cluster').destructive, 'force-new-cluster is marked destructive')
  t.match(p.steps.find((x: any) => x.id === 'force-new-cluster').changes[0].command, /--force-new-cluster/)
  t.equal(await containerIds('master3'), ids, 'no container changed')
  t.equal(await dataFiles(), files, 'no data file changed')
  t.notOk(fs.existsSync(path.join(lab.stateDir(), 'failover')), 'no decision recorded')
  t.ok(planned(p).includes('drop-force-flag'), 'the plan shows the re-creation without the flag (the copy aside stops etcd first)')

  // Killed right after each step: every re-run resumes and the next one dies after the next step.
  for (const step of ['record-decision', 'safety-snapshot', 'copy-data-aside', 'force-new-cluster', 'drop-force-flag', 'count-keys', 'apiserver-etcd-servers-master3', 'taint-dead-nodes']) {
    const r = await dr(['failover', '--site', 'B', '--yes'], { env: { DR_TEST_CRASH_AFTER_STEP: step } })
    t.equal(r.signal, 'SIGKILL', `killed after ${step}`, { stderr: r.stderr.slice(-2000) })
    if (step === 'copy-data-aside') {
      // …and once in the middle of the re-creation of etcd (old one stopped and renamed, new one being made).
      const mid = await dr(['failover', '--site', 'B', '--yes'], { killOn: { pattern: /with --force-new-cluster and itself as the only member …/, delayMs: 1500 } })
      t.equal(mid.signal, 'SIGKILL', 'killed in the middle of re-creating etcd')
    }
  }
  const done = await dr(['failover', '--site', 'B', '--yes', '--json'])
  t.equal(done.code, 0, done.stderr)
  const report = done.json()
  t.equal(report.status, 'succeeded')
  t.match(report.verification.join('\n'), /quorum read and write through master3: ok/)
  t.match(report.summary.join('\n'), /Recovery time/)

  // From outside dr.
  const members = JSON.parse(await etcdctl('master3', ['member', 'list', '-w', 'json'])).members
  t.equal(members.length, 1, 'one member left')
  t.equal(members[0].name, 'etcd-master3')
  const keys = (await etcdctl('master3', ['get', '/registry/e2e/', '--prefix', '--keys-only'])).split('\n').filter((l) => l.includes('key-'))
  t.equal(keys.length, KEYS, 'every key written before the loss is there')
  await etcdctl('master3', ['put', '/registry/e2e/after', 'ok'])
  t.equal((await etcdctl('master3', ['get', '/registry/e2e/after', '--print-value-only'])).trim(), 'ok', 'writable')
  const args = await nodeSh('master3', "docker inspect -f '{{json .Args}} {{.HostConfig.RestartPolicy.Name}}' etcd")
  t.notMatch(args, /force-new-cluster/, 'no --force-new-cluster left')
  t.match(args, /always$/m, 'restart policy restored')
  const api = await nodeSh('master3', "docker inspect -f '{{json .Config.Entrypoint}}' kube-apiserver")
  t.ok(api.includes(`"--etcd-servers=https://${lab.address('master3')}:2379"`), 'apiserver points at the survivor only')
  t.notOk(api.includes(`${lab.address('master1')}:2379`) || api.includes(`${lab.address('master2')}:2379`), 'no dead member left in --etcd-servers')
  t.match(await nodeSh('master3', 'ls -d /var/lib/etcd.dr-before-failover-*'), /dr-before-failover/, 'data dir copy kept')
  t.match(await nodeSh('master3', "docker ps -a --format '{{.Names}}'"), /etcd-old-/, 'old container kept')

  // Plan and apply agree: every step the plan listed as changing was done by one of the runs, and no other.
  t.same(journalledDone(lab.stateDir(), 'failover').sort(), planned(p).sort(), 'the steps the plan listed as changing are the steps the applies changed')

  const again = await dr(['failover', '--site', 'B', '--yes', '--json'])
  t.equal(again.code, 0, again.stderr)
  t.equal(again.json().status, 'nothing-to-do', 'a second run has nothing to do')
})

t.test('a finished failover is judged from the cluster: another state directory, a damaged decision file', async (t) => {
  const etcdId = () => nodeSh('master3', "docker inspect -f '{{.Id}} {{.State.StartedAt}}' etcd")
  const before = await etcdId()
  // A second operator: the same inventory with a state directory of its own (empty).
  const other = path.join(path.dirname(lab.inventory), `${lab.name}-other.yaml`)
  const otherState = fs.mkdtempSync(path.join(os.tmpdir(), `dr-${lab.name}-other-state-`))
  fs.writeFileSync(other, fs.readFileSync(lab.inventory, 'utf8').replace(/^stateDir:.*$/m, '') + `stateDir: ${otherState}\n`)
  t.teardown(() => {
    fs.rmSync(other, { force: true })
    fs.rmSync(otherState, { recursive: true, force: true })
  })
  const plan = await runDr(['failover', '--site', 'B', '--plan', '--json', '-i', other])
  t.equal(plan.code, 0, plan.stderr)
  t.same(planned(plan.json()), [], `nothing planned from an empty state directory: ${JSON.stringify(plan.json().steps.filter((s: any) => s.changes.length))}`)
  t.match(plan.json().description.join('\n'), /already runs from site B alone/)
  const run = await runDr(['failover', '--site', 'B', '--yes', '--json', '-i', other])
  t.equal(run.code, 0, run.stderr)
  t.equal(run.json().status, 'nothing-to-do')
  t.same(applied(run.json()), [], 'nothing applied')
  t.match(run.json().verification.join('\n'), /quorum read and write through master3: ok/, 'the verification ran')
  t.equal(await etcdId(), before, 'etcd is the same container, never restarted')
  t.notOk(fs.existsSync(path.join(otherState, 'failover')), 'no decision written for a failover that was already done')

  // The first operator's decision file, damaged (one truncated line of JSON): stop, name the file, change nothing.
  const file = path.join(lab.stateDir(), 'failover', 'site-B.json')
  const good = fs.readFileSync(file, 'utf8')
  t.teardown(() => fs.writeFileSync(file, good))
  fs.writeFileSync(file, JSON.stringify(JSON.parse(good)).slice(0, 60))
  for (const mode of ['--plan', '--yes']) {
    const r = await dr(['failover', '--site', 'B', mode])
    t.equal(r.code, 3, `${mode}: refused (exit 3)`)
    t.match(r.stderr, /error\[failover\.decision-corrupt\]/)
    t.ok(r.stderr.includes(file), `${mode}: the error names ${file}`)
  }
  t.equal(await etcdId(), before, 'etcd untouched by the damaged-file runs')
  fs.writeFileSync(file, good)
})

t.test('site A returns: fenced, its etcd and apiserver stay down, even after a reboot', async (t) => {
  await lab.startSite('A')
  const fp = await dr(['fence', '--site', 'A', '--plan', '--json'])
  t.equal(fp.code, 0, fp.stderr)
  const f = await dr(['fence', '--site', 'A', '--yes', '--json'])
  t.equal(f.code, 0, f.stderr)
  t.same(applied(f.json()), planned(fp.json()), 'fence: the plan listed the steps the apply changed')
  t.same(f.json().steps.map((s: any) => s.id), ['fence-master1', 'fence-master2'])
  for (const n of ['master1', 'master2']) {
    t.notMatch(await nodeSh(n, "docker ps --format '{{.Names}}'"), /^(etcd|kube-apiserver)$/m, `${n}: nothing running`)
    t.match(await nodeSh(n, 'cat /var/lib/dr/fence.json'), /"site":"A"/)
  }
  await lab.stopSite('A')
  await lab.startSite('A')
  await new Promise((r) => setTimeout(r, 8000))
  for (const n of ['master1', 'master2']) {
    t.notMatch(await nodeSh(n, "docker ps --format '{{.Names}}'"), /^(etcd|kube-apiserver)/m, `${n}: still down after a reboot`)
  }
  const st = await dr(['status', '--json'])
  t.equal(st.code, 0, 'quorum (site B) and no split brain')
  t.match(st.json().fences[0].summary, /returned and fenced/)
  const again = await dr(['fence', '--site', 'A', '--yes', '--json'])
  t.equal(again.json().status, 'nothing-to-do', 'fencing twice changes nothing')
})
