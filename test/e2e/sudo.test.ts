// Issue 9.7, end to end: the runbooks through a login user who is not root (`dr lab up --ssh-user dr`: user `dr`,
// login shell /bin/sh, passwordless sudo; only root may open the docker socket). Status, a backup to the SFTP store
// (upload and fetch stream through `sudo -n`), a full restore from it after every member is wiped, a failover of
// site B (etcd re-created through the docker Engine API under sudo), a fence of returning site A — each checked
// from outside dr (docker and etcdctl inside the nodes).
import t from 'tap'
import { TestLab } from '../helpers/lab.ts'

const lab = new TestLab('e2e-sudo', ['--ssh-user', 'dr'])
t.setTimeout(900_000) // a new lab (and, when its content changed, the inner image) first
const dr = lab.dr.bind(lab)
const KEYS = 50
const MASTERS = ['master1', 'master2', 'master3']
let backupId = ''

t.before(async () => {
  await lab.fresh()
  await lab.sh('master1', `docker exec etcd sh -c 'for i in $(seq 1 ${KEYS}); do etcdctl put /registry/e2e-sudo/key-$i value-$i >/dev/null; done'`, 120_000)
})
t.teardown(() => lab.down())

const keyCount = async (node: string) =>
  (await lab.etcdctl(node, ['get', '--prefix', '/registry/e2e-sudo/', '--keys-only'])).split('\n').filter(Boolean).length

t.test('the lab logs in as dr, who cannot open the docker socket without sudo', async (t) => {
  t.match(await lab.sh('master3', 'getent passwd dr'), /^dr:.*:\/bin\/sh$/m, 'login user dr with /bin/sh')
  const r = await lab.sh('master3', 'su dr -s /bin/sh -c "docker ps" 2>&1; echo "exit $?"')
  t.match(r, /permission denied/, 'dr alone cannot use docker')
  t.match(r, /exit [1-9]/)
})

t.test('dr status reads the cluster through sudo', async (t) => {
  const r = await dr(['status', '--json'])
  t.equal(r.code, 0, r.stderr.slice(-2000))
  const s = r.json()
  t.equal(s.verdict.hasQuorum, true)
  t.equal(s.members.length, 3, 'three members seen')
})

t.test('dr backup now --verify to the SFTP store, through sudo', async (t) => {
  const r = await dr(['backup', 'now', '--store', 'offsite', '--verify', '--json'], { timeoutMs: 180_000 })
  t.equal(r.code, 0, r.stderr.slice(-2000))
  const out = r.json()
  t.equal(out.verify.ok, true, 'verified by a throwaway restore')
  backupId = out.id
  // From outside dr: the object is on node2, owned by root, private, and no partial object is left.
  const ls = await lab.sh('node2', `stat -c '%U %a %n' /var/backups/dr/*`)
  t.match(ls, new RegExp(`^root 600 /var/backups/dr/${backupId}\\.db`, 'm'), 'the payload is root-owned, mode 600')
  t.notMatch(ls, /\.partial|\.tmp/, 'no partial object left')
  const list = await dr(['backup', 'list', '--store', 'offsite', '--json'], { timeoutMs: 60_000 })
  t.equal(list.code, 0, list.stderr.slice(-2000))
  t.ok(JSON.stringify(list.json()).includes(backupId), 'backup list (metadata read through sudo) shows it')
})

t.test('dr backup restore from the SFTP store after every member is wiped', async (t) => {
  for (const m of MASTERS) await lab.sh(m, 'docker update --restart=no etcd >/dev/null && docker stop etcd >/dev/null && rm -rf /var/lib/etcd/member')
  const r = await dr(['backup', 'restore', backupId, '--store', 'offsite', '--yes', '--json'], { timeoutMs: 300_000 })
  t.equal(r.code, 0, r.stderr.slice(-3000))
  t.equal(r.json().status, 'succeeded')
  for (const m of MASTERS) t.equal(await keyCount(m), KEYS, `${m}: every key is back (etcdctl in the node)`)
  const members = JSON.parse(await lab.etcdctl('master1', ['member', 'list', '-w', 'json'])).members
  t.equal(members.length, 3, 'three members again')
})

t.test('dr failover --site B: etcd re-created through the docker API under sudo', async (t) => {
  const before = (await lab.sh('master3', "docker inspect -f '{{.Id}}' etcd")).trim()
  await lab.stopSite('A')
  const r = await dr(['failover', '--site', 'B', '--yes', '--json'], { timeoutMs: 300_000 })
  t.equal(r.code, 0, r.stderr.slice(-3000))
  const report = r.json()
  t.equal(report.status, 'succeeded')
  t.match(report.verification.join('\n'), /quorum read and write through master3: ok/)
  // From outside dr.
  const after = (await lab.sh('master3', "docker inspect -f '{{.Id}} {{.State.Running}} {{json .Args}}' etcd")).trim()
  t.not(after.split(' ')[0], before, 'etcd on master3 is a new container')
  t.match(after, / true /, 'and runs')
  t.notMatch(after, /force-new-cluster/, 'without --force-new-cluster')
  const members = JSON.parse(await lab.etcdctl('master3', ['member', 'list', '-w', 'json'])).members
  t.same(members.map((m: { name: string }) => m.name), ['etcd-master3'], 'one member: master3')
  t.equal(await keyCount('master3'), KEYS, 'no key lost')
})

t.test('dr fence --site A when site A returns', async (t) => {
  await lab.startSite('A')
  const r = await dr(['fence', '--site', 'A', '--yes', '--json'], { timeoutMs: 300_000 })
  t.equal(r.code, 0, r.stderr.slice(-3000))
  for (const m of ['master1', 'master2']) {
    const ps = await lab.sh(m, "docker ps --format '{{.Names}}'")
    t.notMatch(ps, /^(etcd|kube-apiserver)$/m, `${m}: neither etcd nor kube-apiserver runs`)
    t.equal((await lab.sh(m, "docker inspect -f '{{.HostConfig.RestartPolicy.Name}}' $(docker ps -aq --filter name=etcd-fenced)")).trim(), 'no', `${m}: the fenced etcd will not restart`)
  }
  const members = JSON.parse(await lab.etcdctl('master3', ['member', 'list', '-w', 'json'])).members
  t.equal(members.length, 1, 'master3 is still alone: the fenced site did not rejoin')
})
