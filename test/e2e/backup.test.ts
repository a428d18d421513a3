// dr backup on a lab of its own, end to end: backups from a healthy follower to the directory store `local` and
// the SFTP store `offsite` (on a site-B worker), each verified by a throwaway restore; `list --json`; a stopped
// offsite host fails the run loudly and keeps the local copy; `dr check` sees fresh backups.
import t from 'tap'
import fs from 'node:fs'
import YAML from 'yaml'
import { generateIdentity } from 'age-encryption'
import { TestLab } from '../helpers/lab.ts'

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
      t.match(ls, /^600 .*\.db\.gz\.age$/m, 'mode 0600 on the worker')
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
  const r = await dr(['check', '--json'])
  const findings = r.json().findings
  t.match(findings.find((f: { subject: string }) => f.subject === 'store local'), { severity: 'ok' })
  t.match(findings.find((f: { subject: string }) => f.subject === 'store offsite'), { severity: 'ok' })
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
  for (const m of ['master1', 'master2', 'master3']) {
    await lab.sh(m, 'docker update --restart=no etcd >/dev/null && docker stop etcd >/dev/null && rm -rf /var/lib/etcd/member')
  }
  const plan = await dr(['backup', 'restore', ids.local, '--store', 'local', '--plan'], { timeoutMs: 300_000 })
  t.equal(plan.code, 0, plan.stderr)
  t.match(plan.stdout, /Restore the snapshot into master3's data dir/)
  const started = Date.now()
  const r = await dr(['backup', 'restore', ids.local, '--store', 'local', '--yes'], { timeoutMs: 600_000 })
  t.equal(r.code, 0, r.stderr + r.stdout)
  t.comment(`restore took ${((Date.now() - started) / 1000).toFixed(1)} s`)
  const keys = (await lab.etcdctl('master3', ['get', '--prefix', '/registry/e2e-backup/', '--keys-only'])).split('\n').filter(Boolean)
  t.equal(keys.length, KEYS, 'every key is back')
  const again = await dr(['backup', 'restore', ids.local, '--store', 'local', '--yes'], { timeoutMs: 600_000 })
  t.equal(again.code, 0, again.stderr)
  t.match(again.stdout, /nothing to do|0 step/i, 'a second run has nothing to do')
})
