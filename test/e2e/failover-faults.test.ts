// Faults injected in the middle of `dr failover`, on a lab of its own (issue 9, "Fault-injection tests"): the
// survivor's filesystem too small for the copy aside, etcd refusing to start after its re-creation, and the SSH
// connection to the survivor cut in the middle of a re-creation. Each time dr must fail loudly without losing
// anything, and a later run must converge.
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { TestLab } from '../helpers/lab.ts'
import { dr as runDr } from '../helpers/dr.ts'

const KEYS = 100
const lab = new TestLab('e2e-failfaults')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const etcd = () => lab.sh('master3', "docker inspect -f '{{.Id}} {{.State.Running}} {{.HostConfig.RestartPolicy.Name}} {{json .Args}}' etcd")

t.before(async () => {
  await lab.fresh()
  await lab.sh('master1', `docker exec etcd sh -c 'for i in $(seq 1 ${KEYS}); do etcdctl put /registry/faults/key-$i value-$i >/dev/null; done'`, 300_000)
  await lab.stopSite('A')
})
t.teardown(() => lab.down())

t.test("the survivor's filesystem is too small for the copy aside: refused before etcd is stopped", async (t) => {
  // The data dir seen through a bind mount on an 8 MiB tmpfs: its copy aside (a sibling) cannot fit there.
  await lab.sh('master3', 'mkdir -p /srv/small && mount -t tmpfs -o size=8m tmpfs /srv/small && mkdir /srv/small/etcd && mount --bind /var/lib/etcd /srv/small/etcd')
  t.teardown(() => lab.sh('master3', 'umount /srv/small/etcd; umount /srv/small; true'))
  const small = path.join(path.dirname(lab.inventory), `${lab.name}-small.yaml`)
  fs.writeFileSync(small, fs.readFileSync(lab.inventory, 'utf8').replace(/^(\s+dataDir:).*$/m, '$1 /srv/small/etcd'))
  t.teardown(() => fs.rmSync(small, { force: true }))
  const before = await etcd()
  t.match(before, / true /, 'etcd runs')
  const r = await runDr(['failover', '--site', 'B', '--yes', '-i', small])
  t.equal(r.code, 3, `refused (exit 3): ${r.stderr.slice(-1500)}`)
  t.match(r.stderr, /error\[failover\.no-space\].*does not fit/)
  t.equal(await etcd(), before, 'etcd was not stopped, re-created or changed')
  t.equal((await lab.sh('master3', 'ls -d /srv/small/etcd.* 2>/dev/null | wc -l')).trim(), '0', 'no partial copy left')
})

t.test('etcd refuses to start after its re-creation: the old container is back and the run says so', async (t) => {
  const before = await etcd()
  const r = await lab.dr(['failover', '--site', 'B', '--yes'], { env: { DR_TEST_INJECT_ETCD_ARG: '--dr-injected-broken-flag' } })
  t.equal(r.code, 1, `failed (exit 1): ${r.stderr.slice(-1500)}`)
  t.match(r.stderr, /error\[container\.recreate-failed\].*the old one is back under its name/)
  t.match(r.stderr, /dr-injected-broken-flag/, 'the error shows etcd refusing the flag')
  const after = await etcd()
  t.equal(after.split(' ')[0], before.split(' ')[0], 'the container named etcd is the old one (same id)')
  t.notMatch(after, /force-new-cluster|dr-injected/, 'with its old flags')
  t.notMatch(await lab.sh('master3', "docker ps -a --format '{{.Names}}'"), /etcd-old-/, 'no kept copy left behind: the old one has its name back')
})

t.test('the SSH connection to the survivor is cut in the middle of a re-creation: a clear error, and a re-run converges', async (t) => {
  const run = lab.dr(['failover', '--site', 'B', '--yes'])
  // The re-creation records its progress on the host: cut every SSH session to master3 once it has begun.
  let cut = false
  for (let i = 0; i < 600 && !cut; i++) {
    if ((await lab.sh('master3', 'test -e /var/lib/dr/recreate/etcd.json && echo yes || echo no')).trim() === 'yes') {
      await lab.sh('master3', 'pkill -P "$(cat /run/sshd.pid)" sshd; true')
      cut = true
    } else await sleep(100)
  }
  t.ok(cut, 'the connection was cut during the re-creation')
  const r = await run
  t.not(r.code, 0, 'the run fails')
  t.equal(r.signal, null, 'by itself, not killed')
  t.match(r.stderr, /error\[[a-z.-]+\]/, `a clear error: ${r.stderr.slice(-1200)}`)
  const again = await lab.dr(['failover', '--site', 'B', '--yes', '--json'])
  t.equal(again.code, 0, again.stderr.slice(-3000))
  t.equal(again.json().status, 'succeeded')
  const members = JSON.parse(await lab.etcdctl('master3', ['member', 'list', '-w', 'json'])).members
  t.equal(members.length, 1, 'one member left')
  const keys = (await lab.etcdctl('master3', ['get', '/registry/faults/', '--prefix', '--keys-only'])).split('\n').filter((l) => l.includes('key-'))
  t.equal(keys.length, KEYS, 'every key')
  t.notMatch(await etcd(), /force-new-cluster/)
})
