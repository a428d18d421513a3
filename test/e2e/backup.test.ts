// dr backup on a lab of its own, end to end: backups from a healthy follower to the directory store `local` and
// the SFTP store `offsite` (on a site-B worker), each verified by a throwaway restore; `list --json`; a stopped
// offsite host fails the run loudly and keeps the local copy; `dr check` sees fresh backups.
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import YAML from 'yaml'
import { generateIdentity } from 'age-encryption'
import { TestLab } from '../helpers/lab.ts'
import { dr as runDr } from '../helpers/dr.ts'
import { applied, planned } from '../helpers/plan-vs-apply.ts'

const lab = new TestLab('e2e-backup')
const dr = lab.dr.bind(lab)
const KEYS = 100

t.before(async () => {
  await lab.fresh()
  await lab.sh('master1', `docker exec etcd sh -c 'for i in $(seq 1 ${KEYS}); do etcdctl put /registry/e2e-backup/key-$i value-$i >/dev/null; done'`, 300_000)
})
t.teardown(() => lab.down())

const ids: Record<string, string> = {}

for (const store of ['local', 'offsite']) {
  t.test(`dr backup now --store ${store} --verify`, async (t) => {
    const r = await dr(['backup', 'now', '--store', store, '--verify', '--json'], { timeoutMs: 300_000 })
    t.equal(r.code, 0, r.stderr)
    const out = r.json()
    t.equal(out.store, store)
    t.not(out.member.host, undefined)
    t.match(out.member.why, /follower/, 'a follower was chosen')
    t.equal(out.verify.ok, true, 'verified by a throwaway restore')
    t.ok(out.metadata.revision > KEYS)
    t.match(out.metadata.encryption, { type: 'age' })
    ids[store] = out.id
    if (store === 'offsite') {
      t.match(out.location, /^node2:\/var\/backups\/dr\//)
      const ls = await lab.sh('node2', `stat -c '%a %n' /var/backups/dr/${out.id}.*`)
      t.match(ls, /^600 .*\.db\.br\.age$/m, 'mode 0600 on the worker')
      t.match(ls, /^600 .*\.meta\.json$/m)
    }
  })
}

t.test('dr backup list --json shows both', async (t) => {
  const r = await dr(['backup', 'list', '--json'])
  t.equal(r.code, 0, r.stderr)
  const entries = r.json()
  for (const store of ['local', 'offsite']) {
    const e = entries.find((x: { id: string; store: string }) => x.id === ids[store] && x.store === store)
    t.ok(e, `${store} lists ${ids[store]}`)
    for (const k of ['id', 'store', 'location', 'size', 'sha256', 'revision', 'createdAt']) t.ok(e?.[k] !== undefined && e?.[k] !== null, `${k} present`)
  }
  const v = await dr(['backup', 'verify', ids.offsite, '--store', 'offsite'], { timeoutMs: 300_000 })
  t.equal(v.code, 0, v.stderr)
  t.match(v.stdout, /restored key count/)
})

t.test('an unreachable offsite store fails loudly and keeps the local copy', async (t) => {
  const inv = YAML.parse(fs.readFileSync(lab.inventory, 'utf8'))
  const stateDir = new URL(inv.stateDir, `file://${lab.inventory}`).pathname
  // root ignores file modes: put a plain file where the store's directory is, so every write there fails
  await lab.sh('node2', 'mv /var/backups/dr /var/backups/dr.away && touch /var/backups/dr')
  t.teardown(() => lab.sh('node2', 'rm -f /var/backups/dr && mv /var/backups/dr.away /var/backups/dr'))
  const r = await dr(['backup', 'now', '--store', 'offsite', '--retries', '2'], { timeoutMs: 300_000 })
  t.equal(r.code, 1, 'exit 1')
  t.match(r.stderr, /error\[backup\.store-failed\]/)
  const m = /kept locally at ([^\s;]+)/.exec(r.stderr)
  t.ok(m && fs.existsSync(m[1]), `the local copy exists (${m?.[1]})`)
  t.ok(m?.[1].startsWith(stateDir), 'under the inventory stateDir')
})

t.test('dr check: the backups are fresh', async (t) => {
  const r = await dr(['check', 'backups', '--json'])
  t.equal(r.code, 0, r.stderr.slice(-2000))
  const results = r.json().results
  t.match(results.find((f: { subject: string }) => f.subject === 'store local'), { status: 'ok' })
  t.match(results.find((f: { subject: string }) => f.subject === 'store offsite'), { status: 'ok' })
})

t.test('restore refuses a wrongly-decrypted backup before touching anything', async (t) => {
  const before = await lab.containerIds('master1')
  const key = '/tmp/dr-e2e-wrong.age'
  fs.writeFileSync(key, (await generateIdentity()) + '\n')
  const r = await dr(['backup', 'restore', ids.local, '--store', 'local', '--identity', key, '--yes', '--force'], { timeoutMs: 300_000 })
  t.equal(r.code, 3, `refused: ${r.stderr}`)
  t.match(r.stderr, /error\[backup\.wrong-key\]/)
  t.equal(await lab.containerIds('master1'), before, 'etcd untouched')
})

t.test('full-cluster restore after every member is wiped brings back every key', async (t) => {
  const masters = ['master1', 'master2', 'master3']
  for (const m of masters) {
    await lab.sh(m, 'docker update --restart=no etcd >/dev/null && docker stop etcd >/dev/null && rm -rf /var/lib/etcd/member')
  }
  // The old code copied the snapshot to /var/tmp/dr-restore-<token>.db, a name known to the second: plant a symlink
  // at every such name of the next ten minutes. A private mktemp -d directory never follows them.
  const plant = `now=$(date +%s); for i in $(seq -5 600); do ts=$(date -u -d "@$((now + i))" +%Y%m%dt%H%M%Sz); ln -sf /root/dr-victim /var/tmp/dr-restore-dr-restore-$ts.db; done`
  for (const m of masters) await lab.sh(m, plant)
  t.teardown(async () => {
    for (const m of masters) await lab.sh(m, 'rm -f /var/tmp/dr-restore-dr-restore-*.db /root/dr-victim')
  })
  const plan = await dr(['backup', 'restore', ids.local, '--store', 'local', '--plan', '--json'], { timeoutMs: 300_000 })
  t.equal(plan.code, 0, plan.stderr)
  t.ok(plan.json().steps.some((s: any) => /Restore the snapshot into master3's data dir/.test(s.title)))
  const started = Date.now()
  const r = await dr(['backup', 'restore', ids.local, '--store', 'local', '--yes', '--json'], { timeoutMs: 600_000 })
  t.equal(r.code, 0, r.stderr + r.stdout)
  t.comment(`restore took ${((Date.now() - started) / 1000).toFixed(1)} s`)
  t.same(applied(r.json()), planned(plan.json()), 'backup restore: the plan listed the steps the apply changed')
  const keys = (await lab.etcdctl('master3', ['get', '--prefix', '/registry/e2e-backup/', '--keys-only'])).split('\n').filter(Boolean)
  t.equal(keys.length, KEYS, 'every key is back')
  for (const m of masters) {
    t.equal((await lab.sh(m, 'test -e /root/dr-victim && echo followed || echo safe')).trim(), 'safe', `${m}: no planted symlink was followed`)
    t.equal((await lab.sh(m, 'ls -d /var/tmp/dr-restore.* 2>/dev/null | wc -l')).trim(), '0', `${m}: the private copy is gone`)
  }
  const again = await dr(['backup', 'restore', ids.local, '--store', 'local', '--yes', '--json'], { timeoutMs: 600_000 })
  t.equal(again.code, 0, again.stderr)
  t.equal(again.json().status, 'nothing-to-do', 'a second run has nothing to do')
})

t.test('a restore done is read from the cluster; state files are evidence, not switches', async (t) => {
  const ids0 = await Promise.all(['master1', 'master2', 'master3'].map((m) => lab.containerIds(m)))
  // A second operator with an empty state directory: nothing planned, nothing changed, the verification runs.
  const other = path.join(path.dirname(lab.inventory), `${lab.name}-other.yaml`)
  const otherState = fs.mkdtempSync(path.join(os.tmpdir(), `dr-${lab.name}-other-state-`))
  fs.writeFileSync(other, fs.readFileSync(lab.inventory, 'utf8').replace(/^stateDir:.*$/m, '') + `stateDir: ${otherState}\n`)
  t.teardown(() => {
    fs.rmSync(other, { force: true })
    fs.rmSync(otherState, { recursive: true, force: true })
  })
  const r = await runDr(['backup', 'restore', ids.local, '--store', 'local', '--yes', '--json', '-i', other], { timeoutMs: 300_000 })
  t.equal(r.code, 0, r.stderr)
  t.equal(r.json().status, 'nothing-to-do', 'nothing to do from an empty state directory')
  t.match(r.json().verification.join('\n'), /quorum read and write/)
  t.same(await Promise.all(['master1', 'master2', 'master3'].map((m) => lab.containerIds(m))), ids0, 'no container changed')

  // A leftover, unfinished state file of another backup never lifts the quorum refusal.
  const stateDir = new URL(YAML.parse(fs.readFileSync(lab.inventory, 'utf8')).stateDir, `file://${lab.inventory}`).pathname
  const leftover = path.join(stateDir, 'restore', `${ids.offsite}.json`)
  fs.mkdirSync(path.dirname(leftover), { recursive: true })
  const member = { host: 'master1', name: 'etcd-master1', peerUrl: `https://${lab.address('master1')}:2380`, image: 'x', restartPolicy: { Name: 'always' } }
  fs.writeFileSync(leftover, JSON.stringify({ id: ids.offsite, token: 'dr-restore-leftover', startedAt: new Date().toISOString(), sha256: 'x', members: [member] }))
  t.teardown(() => fs.rmSync(leftover, { force: true }))
  const refused = await dr(['backup', 'restore', ids.offsite, '--store', 'offsite', '--yes'], { timeoutMs: 300_000 })
  t.equal(refused.code, 3, `refused: ${refused.stderr}`)
  t.match(refused.stderr, /error\[restore\.quorum-present\]/)

  // A damaged state file stops the run with an error naming it.
  fs.writeFileSync(leftover, '{"id": "' + ids.offsite + '", "tok')
  const damaged = await dr(['backup', 'restore', ids.offsite, '--store', 'offsite', '--plan'], { timeoutMs: 300_000 })
  t.equal(damaged.code, 3, damaged.stderr)
  t.match(damaged.stderr, /error\[restore\.state-corrupt\]/)
  t.ok(damaged.stderr.includes(leftover), 'the error names the file')
  t.same(await Promise.all(['master1', 'master2', 'master3'].map((m) => lab.containerIds(m))), ids0, 'still no container changed')
})
