// A host whose address really changed (issue 12): `dr lab break address-change` moves master1 to a new address
// for good and rewrites the lab inventory for it, as an operator would after a re-IP. doctor names it with its
// evidence (exit 5); the fix is refused while the other members have no quorum; `--fix --plan` changes nothing;
// `--fix --yes` updates the member, re-issues its certificate from the CA, re-creates etcd and repoints the
// apiservers — checked from inside the nodes with etcdctl, openssl and docker inspect; a run killed after etcd's
// re-creation is named again by doctor and finished by the next; a second run changes nothing.
import t, { type Test } from 'tap'
import path from 'node:path'
import { TestLab } from '../helpers/lab.ts'

const lab = new TestLab('e2e-moved')
const dr = lab.dr.bind(lab)
const caKey = () => path.join(path.dirname(lab.inventory), lab.name, 'pki', 'kube-ca-key.pem')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const dashes = (ip: string) => ip.replaceAll('.', '-')
const MASTERS = ['master1', 'master2', 'master3']

let from = ''
let to = ''

t.before(() => lab.fresh())
t.teardown(() => lab.down())

interface Member { name: string; peerURLs: string[]; clientURLs?: string[] }
/** The member list as etcd on master2 sees it (etcdctl inside the node's etcd container). */
const members = async (): Promise<Member[]> => JSON.parse(await lab.etcdctl('master2', ['member', 'list', '-w', 'json'])).members
/** The container IDs on every master and the member list: what "changes nothing" is judged by. */
const clusterState = async () => ({ members: await members(), ids: await Promise.all(MASTERS.map((n) => lab.containerIds(n))) })
/** The whole command of a container in a node (RKE: etcd's Path+Args, kube-apiserver's Entrypoint). */
const command = async (node: string, container: string) => (await lab.sh(node, `docker inspect --format '{{json .Path}} {{json .Args}} {{json .Config.Entrypoint}}' ${container}`)).trim()

async function etcdHealthyAgain(t: Test) {
  for (let i = 0; i < 60; i++) {
    const h = await lab.sh('master3', 'docker exec etcd etcdctl endpoint health 2>&1 || true')
    if (/is healthy/.test(h)) return t.pass('etcd on master3 healthy again')
    await sleep(1000)
  }
  t.fail('etcd on master3 did not become healthy again')
}

t.test('address-change: master1 moves for good; doctor names it with its evidence', async (t) => {
  const r = await dr(['lab', 'break', 'address-change', '--host', 'master1', '--name', lab.name, '--json'], { timeoutMs: 300_000 })
  t.equal(r.code, 0, 'exit 0', { stderr: r.stderr.slice(-1500) })
  ;({ from, to } = r.json().result)
  t.not(from, to, `moved ${from} → ${to}`)
  t.equal(lab.address('master1'), to, 'the lab inventory follows the host')
  const m1 = (await members()).find((m) => m.name === 'etcd-master1')
  t.same(m1?.peerURLs, [`https://${from}:2380`], 'etcd still lists the old peer URL')
  // The symptom, seen from outside dr first: master2's etcd cannot dial master1's old address.
  let complaints = 0
  for (let i = 0; i < 60 && !complaints; i++, await sleep(1000)) complaints = Number((await lab.sh('master2', `docker logs --tail 300 etcd 2>&1 | grep -c 'dial tcp ${from}:2380' || true`)).trim())
  t.ok(complaints > 0, `etcd on master2 logs that it cannot dial ${from}:2380`)

  const d = await dr(['doctor', '--json'])
  t.equal(d.code, 5, 'exit 5')
  const a = d.json().diagnoses.find((x: any) => x.id === 'address-changed')
  t.ok(a, 'address-changed named')
  t.equal(a?.subject, 'master1')
  t.equal(a?.fixable, true)
  const ev = (a?.evidence ?? []).join('\n')
  t.match(ev, `--initial-advertise-peer-urls=https://${from}:2380`, "etcd's flag")
  t.match(ev, `hosts.master1.address=${to}`, "the inventory's address")
  t.match(ev, `peerURLs=https://${from}:2380`, 'the member list')
  t.match(ev, /kube-apiserver --etcd-servers names .* on master1, master2, master3/, "the apiservers' flags")
  t.match(ev, new RegExp(`etcd on master[23]: .*dial tcp ${from.replaceAll('.', '\\.')}:2380`), "a peer's own log line")
  t.notOk(d.json().diagnoses.some((x: any) => x.id === 'ip-drift'), 'not taken for ip-drift: the host keeps its new address')
})

t.test('refused while the other members have no quorum, and nothing changed', async (t) => {
  await lab.sh('master3', 'docker stop etcd >/dev/null')
  const before = await members()
  const r = await dr(['doctor', '--fix', '--yes', '--ca-key', caKey()], { timeoutMs: 300_000 })
  await lab.sh('master3', 'docker start etcd >/dev/null')
  t.equal(r.code, 3, 'refused (exit 3)')
  t.match(r.stderr, /doctor\.address-change-no-quorum/)
  t.match(r.stderr, /dr failover/, 'says what to do instead')
  t.same(await members(), before, 'the member list is untouched')
  await etcdHealthyAgain(t)
})

t.test('--fix --plan shows the member update and the re-creations and changes nothing', async (t) => {
  const before = await clusterState()
  const p = await dr(['doctor', '--fix', '--plan', '--ca-key', caKey()], { timeoutMs: 300_000 })
  t.equal(p.code, 0, 'exit 0', { stderr: p.stderr.slice(-1500) })
  t.match(p.stdout, new RegExp(`etcdctl member update [0-9a-f]+ --peer-urls=https://${to.replaceAll('.', '\\.')}:2380`))
  t.match(p.stdout, `kube-etcd-${dashes(to)}.pem`, 'the certificate for the new address')
  t.match(p.stdout, /Re-create etcd on master1/)
  t.same(await clusterState(), before, 'containers and member list unchanged')
  t.notOk((await lab.sh('master1', 'ls /etc/kubernetes/ssl')).includes(`kube-etcd-${dashes(to)}.pem`), 'no certificate written')
})

t.test('a fix killed after the etcd re-creation: doctor names the half left, and the next --fix finishes it', async (t) => {
  const killed = await dr(['doctor', '--fix', '--yes', '--ca-key', caKey()], { timeoutMs: 600_000, env: { DR_TEST_CRASH_AFTER_STEP: 'recreate-etcd-master1' } })
  t.not(killed.code, 0, 'the first run was killed', { stdout: killed.stdout.slice(-1500) })
  t.match(await command('master1', 'etcd'), `--initial-advertise-peer-urls=https://${to}:2380`, 'etcd on master1 moved before the kill')
  t.match(await command('master1', 'kube-apiserver'), `--advertise-address=${from}`, 'its kube-apiserver not yet')
  const d = await dr(['doctor', '--json'])
  t.equal(d.code, 5, 'exit 5: something left', { stderr: d.stderr.slice(-1500) })
  const left = d.json().diagnoses.find((x: any) => x.id === 'address-changed' && x.subject === 'master1')
  t.ok(left, 'address-changed still named for master1', { diagnoses: d.json().diagnoses.map((x: any) => x.title) })
  t.match(left?.title, new RegExp(`kube-apiserver on master1 advertises ${from.replaceAll('.', '\\.')}`))
  t.match(left?.evidence.join('\n'), /hostname -I on master1/)
})

t.test('--fix --yes: member, certificate, etcd and apiservers on the new address, as seen from the nodes', async (t) => {
  const fix = await dr(['doctor', '--fix', '--yes', '--ca-key', caKey()], { timeoutMs: 600_000 })
  t.equal(fix.code, 0, 'exit 0', { stderr: fix.stderr.slice(-3000) })
  const m1 = (await members()).find((m) => m.name === 'etcd-master1')
  t.same(m1?.peerURLs, [`https://${to}:2380`], 'etcdctl member list: the new peer URL')
  t.same(m1?.clientURLs, [`https://${to}:2379`], 'and the new client URL (published by the re-created member)')
  const health = JSON.parse(await lab.etcdctl('master2', ['endpoint', 'health', '--cluster', '-w', 'json'])) as Array<{ endpoint: string; health: boolean }>
  t.equal(health.length, 3, 'three endpoints')
  t.ok(health.every((e) => e.health), `endpoint health --cluster: all healthy (${JSON.stringify(health)})`)
  t.ok(health.some((e) => e.endpoint === `https://${to}:2379`), 'master1 on its new address among them')

  const cert = `/etc/kubernetes/ssl/kube-etcd-${dashes(to)}.pem`
  const sans = await lab.sh('master1', `openssl x509 -in ${cert} -noout -ext subjectAltName`)
  t.match(sans, `IP Address:${to}`, 'the new certificate carries the new address')
  t.notMatch(sans, new RegExp(`IP Address:${from.replaceAll('.', '\\.')}(?!\\d)`), 'and not the old one')
  t.match(await lab.sh('master1', `openssl verify -CAfile /etc/kubernetes/ssl/kube-ca.pem ${cert}`), /OK/, 'signed by the cluster CA')

  const etcd = await command('master1', 'etcd')
  t.notOk(etcd.includes(from), 'etcd on master1 names the old address nowhere')
  t.match(etcd, `--initial-advertise-peer-urls=https://${to}:2380`)
  t.match(etcd, `--cert-file=${cert}`)
  for (const n of MASTERS) {
    const api = await command(n, 'kube-apiserver')
    const servers = /--etcd-servers=([^"]+)/.exec(api)?.[1] ?? ''
    t.ok(servers.split(',').includes(`https://${to}:2379`) && !servers.includes(from), `kube-apiserver on ${n}: --etcd-servers=${servers}`)
  }
  t.match(await command('master1', 'kube-apiserver'), `--advertise-address=${to}`, "master1's apiserver advertises its new address")
  await lab.etcdctl('master1', ['put', '/dr-e2e/moved', 'ok'])
  t.equal((await lab.etcdctl('master2', ['get', '/dr-e2e/moved', '--print-value-only'])).trim(), 'ok', 'a write through master1 is read through master2')
})

t.test('a second --fix changes nothing, and doctor finds nothing', async (t) => {
  const before = await clusterState()
  const again = await dr(['doctor', '--fix', '--yes', '--ca-key', caKey()], { timeoutMs: 300_000 })
  t.equal(again.code, 0, 'exit 0', { stderr: again.stderr.slice(-1500) })
  t.match(again.stdout + again.stderr, /Nothing to do/)
  t.same(await clusterState(), before, 'the same containers and member list')
  const d = await dr(['doctor', '--json'])
  t.equal(d.code, 0, 'exit 0', { stderr: d.stderr.slice(-1500) })
  t.equal(d.json().healthy, true)
})
