// Faults around fencing and locking, on a lab that claims Kubernetes 1.20.5 (seed 003's): two operators run the
// same failover from two machines (two state directories) → exactly one proceeds, the other is refused naming the
// owner; the lost Nodes are deleted (the out-of-service taint moves no pods before 1.26) and their pods go;
// `dr fence` never takes a changed host key or a failed login for "unreachable"; a host SSH cannot reach is
// powered off by the inventory's fence agent (the lab's power switch), and without an agent the run fails.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import YAML from 'yaml'
import { dr as drRaw, ROOT } from '../helpers/dr.ts'
import { TestLab } from '../helpers/lab.ts'
import { apiClient } from '../../src/lab/api.ts'

const lab = new TestLab('e2e-fence')
const dr = lab.dr.bind(lab)
const made: string[] = []
/** The inventory copy (state directory) of the operator whose failover went through. */
let winner = ''
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-e2e-fence-'))

/** A copy of the lab inventory beside it (so its relative paths hold), edited: another operator's view. */
function inventoryCopy(suffix: string, edit: (doc: any) => void): string {
  const doc = YAML.parse(fs.readFileSync(lab.inventory, 'utf8'))
  edit(doc)
  const file = path.join(path.dirname(lab.inventory), `${lab.name}-${suffix}.yaml`)
  fs.writeFileSync(file, YAML.stringify(doc))
  made.push(file)
  return file
}
const stateDirOf = (suffix: string) => path.join(ROOT, '.dr', `${lab.name}-${suffix}`)
const drWith = (file: string, args: string[]) => drRaw([...args, '-i', file])
const api = () => apiClient(path.join(ROOT, 'inventories', lab.name, 'pki'), lab.address('master3'))
const podsOn = async (nodes: string[]) =>
  ((await api().request('GET', '/api/v1/pods')).body.items as any[]).filter((p) => nodes.includes(p.spec?.nodeName)).map((p) => `${p.metadata.name}@${p.spec.nodeName}`)

t.before(() => lab.fresh())
t.teardown(async () => {
  for (const f of made) fs.rmSync(f, { force: true })
  for (const s of ['op1', 'op2', 'empty']) fs.rmSync(stateDirOf(s), { recursive: true, force: true })
  fs.rmSync(tmp, { recursive: true, force: true })
  await lab.down()
})

t.test('two concurrent failovers from two state directories: exactly one proceeds, the other is refused naming the owner', async (t) => {
  const siteA = ['master1', 'master2', 'node1']
  t.ok((await podsOn(siteA)).length >= 3, 'site A runs its hello-world pods')
  await lab.stopSite('A')
  const op1 = inventoryCopy('op1', (d) => (d.stateDir = `../.dr/${lab.name}-op1`))
  const op2 = inventoryCopy('op2', (d) => (d.stateDir = `../.dr/${lab.name}-op2`))
  const [a, b] = await Promise.all([drWith(op1, ['failover', '--site', 'B', '--yes', '--json']), drWith(op2, ['failover', '--site', 'B', '--yes', '--json'])])
  const codes = [a.code, b.code].sort()
  t.same(codes, [0, 3], `one succeeded, one was refused (exits ${a.code}, ${b.code})`, { a: a.stderr.slice(-1500), b: b.stderr.slice(-1500) })
  const [won, lost] = a.code === 0 ? [a, b] : [b, a]
  winner = a.code === 0 ? op1 : op2
  t.match(lost.stderr, /error\[runbook\.locked\]: the cluster is locked on master3: \S+@\S+ \(pid \d+\) has been running failover since/, 'the refusal names the owner')
  t.notOk(fs.existsSync(path.join(a.code === 0 ? stateDirOf('op2') : stateDirOf('op1'), 'failover')), 'the refused run recorded no decision')
  const report = won.json()
  t.equal(report.status, 'succeeded')
  const nodes = report.steps.find((s: any) => s.id === 'taint-dead-nodes')
  t.match(nodes.evidence, /deleted .*v1\.20\.5.*does not move pods before 1\.26/, 'on 1.20 the lost Nodes are deleted, and it says why')
  t.match(nodes.evidence, /no pod left on a lost Node/)
  t.same(await podsOn(siteA), [], "site A's pods are gone from the lost Nodes (checked from outside dr)")
  const names = ((await api().request('GET', '/api/v1/nodes')).body.items as any[]).map((n) => n.metadata.name)
  t.same(names.filter((n) => siteA.includes(n)), [], 'the lost Nodes are deleted')
  t.equal((await lab.sh('master3', 'ls /var/lib/dr/lock 2>/dev/null || echo released')).trim(), 'released', 'the host lock is released at the end')
})

t.test('dr fence: a changed host key or a failed login is never "unreachable": non-zero exit, the host named', async (t) => {
  await lab.startSite('A')
  // master1's known host key replaced by another key: what a reinstalled (or impersonated) host looks like.
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(tmp, 'other')])
  const other = fs.readFileSync(path.join(tmp, 'other.pub'), 'utf8').trim().split(/\s+/).slice(0, 2).join(' ')
  const known = fs.readFileSync(path.join(ROOT, 'inventories', lab.name, 'known_hosts'), 'utf8')
  const m1 = lab.address('master1')
  fs.writeFileSync(path.join(tmp, 'known_hosts'), known.split('\n').map((l) => (l.startsWith(`${m1} `) ? `${m1} ${other}` : l)).join('\n'))
  const changed = inventoryCopy('hostkey', (d) => (d.ssh.knownHosts = path.join(tmp, 'known_hosts')))
  const hk = await drWith(changed, ['fence', '--site', 'A', '--yes'])
  t.not(hk.code, 0, 'non-zero exit')
  t.match(hk.stderr, /master1: ssh\.hostkey-changed/, 'names the host and the cause')
  t.match(hk.stderr, /NOT fully fenced/)
  t.match(hk.stderr, /may still run and, with the other members of the old membership, form a quorum/, 'says what follows')
  t.match(await lab.sh('master1', "docker ps -a --format '{{.Names}}'"), /^etcd$/m, 'master1 was not touched (its etcd is not renamed)')

  // master2 logs in with a key its sshd does not accept.
  const wrongKey = path.join(tmp, 'other')
  const badAuth = inventoryCopy('auth', (d) => (d.hosts.master2.ssh = { identityFile: wrongKey }))
  const au = await drWith(badAuth, ['fence', '--site', 'A', '--yes'])
  t.not(au.code, 0, 'non-zero exit')
  t.match(au.stderr, /master2: ssh\.auth-failed/, 'names the host and the cause')

  const ok = await dr(['fence', '--site', 'A', '--yes', '--json'])
  t.equal(ok.code, 0, ok.stderr)
  t.same(ok.json().verification, ['master1: fenced (etcd and kube-apiserver stopped and disabled)', 'master2: fenced (etcd and kube-apiserver stopped and disabled)'])

  // Another operator, with an empty state directory, on the already fenced site: nothing changes (issue 15.3).
  const ids = await lab.containerIds('master1')
  const fresh = inventoryCopy('empty', (d) => (d.stateDir = `../.dr/${lab.name}-empty`))
  const again = await drWith(fresh, ['fence', '--site', 'A', '--yes', '--json'])
  t.equal(again.code, 0, again.stderr)
  t.equal(again.json().status, 'nothing-to-do')
  t.equal(await lab.containerIds('master1'), ids, 'no container changed')
})

t.test('dr fence powers off, through the fence agent, a host SSH cannot reach; without an agent it fails', async (t) => {
  // master1 is up but its sshd is gone: nothing answers on port 22.
  await lab.sh('master1', 'pkill -x sshd; true')
  const noAgent = inventoryCopy('noagent', (d) => delete d.sites.A.fence)
  const na = await drWith(noAgent, ['fence', '--site', 'A', '--yes'])
  t.equal(na.code, 4, 'unverified: the site is not fully fenced')
  t.match(na.stderr, /master1: not reachable \(ssh\.connection-refused\), and no fence agent/)
  t.equal((await drRaw(['lab', 'power', 'status', 'master1', '--name', lab.name])).stdout.trim(), 'master1: power on', 'nothing powered it off')

  const r = await dr(['fence', '--site', 'A', '--yes', '--json'])
  t.equal(r.code, 0, r.stderr)
  const rep = r.json()
  t.same(rep.steps.map((s: any) => [s.id, s.outcome]), [['fence-master2', 'nothing-to-do'], ['power-off-master1', 'done']])
  t.match(rep.steps[1].changes[0].command, /lab power off master1 --name/)
  t.match(rep.verification.join('\n'), /master1: powered off \(confirmed by its fence agent\)/)
  t.equal((await drRaw(['lab', 'power', 'status', 'master1', '--name', lab.name])).stdout.trim(), 'master1: power off', 'the lab says it is off')
  const st = await drWith(winner, ['status', '--json'])
  t.match(st.json().fences?.[0]?.summary, /returned and fenced \(master2\)/, 'dr status: fenced (master1 counts as fenced: powered off)')
  const again = await dr(['fence', '--site', 'A', '--yes', '--json'])
  t.equal(again.json().status, 'nothing-to-do', 'off stays off: nothing to do')
})
