// dr failover and dr fence on the kubeadm flavor: etcd and kube-apiserver are static pods run by the lab's kubelet
// stand-in. Both failover methods reach a verified cluster of site B, a second run changes nothing, --plan changes
// nothing, and a returning site A is fenced by moving its manifests out (and stays down across a reboot). Every
// check is made from outside dr too: etcdctl inside the node's etcd container, the manifests on disk, the
// containers the agent runs.
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { TestLab } from '../helpers/lab.ts'
import { applied, planned } from '../helpers/plan-vs-apply.ts'

const KEYS = 100
const lab = new TestLab('e2e-kadm-fo', ['--flavor', 'kubeadm'])
const dr = lab.dr.bind(lab)
const PKI = '/etc/kubernetes/pki'
const MANIFESTS = '/etc/kubernetes/manifests'
const runningEtcd = 'docker ps -q --filter label=io.kubernetes.container.name=etcd --filter status=running | head -n1'
const etcdctl = (node: string, args: string, timeoutMs?: number) =>
  lab.sh(node, `docker exec "$(${runningEtcd})" etcdctl --endpoints=https://127.0.0.1:2379 --cacert=${PKI}/etcd/ca.crt --cert=${PKI}/etcd/server.crt --key=${PKI}/etcd/server.key ${args}`, timeoutMs)
const running = async (node: string) => (await lab.sh(node, "docker ps --format '{{.Names}}'")).split('\n').filter(Boolean)
const memberNames = async (node: string) => (JSON.parse(await etcdctl(node, 'member list -w json')) as { members: Array<{ name: string }> }).members.map((m) => m.name).sort()
const clusterId = async (node: string) => (JSON.parse(await etcdctl(node, 'endpoint status -w json')) as Array<{ Status: { header: { cluster_id: number } } }>)[0].Status.header.cluster_id
const keyCount = async (node: string) => (await etcdctl(node, 'get /registry/e2e/ --prefix --keys-only')).split('\n').filter((l) => l.includes('key-')).length
const snapshotOfMaster3 = () => lab.sh('master3', `cat ${MANIFESTS}/etcd.yaml ${MANIFESTS}/kube-apiserver.yaml; docker ps -a --no-trunc --format '{{.Names}} {{.ID}}' | sort; ls -d /var/lib/etcd*`)

async function writeKeys() {
  // One docker exec: the loop runs inside the etcd container.
  const put = `etcdctl --endpoints=https://127.0.0.1:2379 --cacert=${PKI}/etcd/ca.crt --cert=${PKI}/etcd/server.crt --key=${PKI}/etcd/server.key put`
  await lab.sh('master1', `docker exec "$(${runningEtcd})" sh -c 'for i in $(seq 1 ${KEYS}); do ${put} /registry/e2e/key-$i value-$i >/dev/null; done'`, 300_000)
}

t.before(async () => {
  await lab.fresh()
  await writeKeys()
})
t.teardown(() => lab.down())

t.test('force-new-cluster on static pods: plan changes nothing, failover verified, a second run is a no-op', async (t) => {
  await lab.stopSite('A')
  const before = await snapshotOfMaster3()
  const plan = await dr(['failover', '--site', 'B', '--plan', '--json'])
  t.equal(plan.code, 0, plan.stderr)
  const p = plan.json()
  const force = p.steps.find((x: any) => x.id === 'force-new-cluster')
  t.match(force.changes[0].summary, /edit \/etc\/kubernetes\/manifests\/etcd\.yaml/, 'the plan edits the manifest')
  t.match(force.changes[0].command, /^\+ +- --force-new-cluster$/m, 'the plan shows the manifest diff')
  t.match(p.steps.find((x: any) => x.id === 'copy-data-aside').changes[0].command, /mv \/etc\/kubernetes\/manifests\/etcd\.yaml \/etc\/kubernetes\/dr\/stopped\/etcd\.yaml/)
  t.equal(await snapshotOfMaster3(), before, '--plan changed no manifest, container or data dir')
  t.notOk(fs.existsSync(path.join(lab.stateDir(), 'failover')), 'no decision recorded')

  const r = await dr(['failover', '--site', 'B', '--yes', '--json'], { timeoutMs: 600_000 })
  t.equal(r.code, 0, r.stderr.slice(-3000))
  const rep = r.json()
  t.equal(rep.status, 'succeeded')
  t.match(rep.verification.join('\n'), /quorum read and write through master3: ok/)
  t.match(rep.verification.join('\n'), /kube-apiserver on master3: ready/)
  t.ok(rep.steps.some((s: any) => s.id === 'kubeadm-config-cluster-status'), "kubeadm's record is part of a kubeadm failover")

  // From outside dr.
  t.same(await memberNames('master3'), ['master3'], 'the survivor is the only member')
  t.equal(await keyCount('master3'), KEYS, 'every key written before the loss is there')
  await etcdctl('master3', 'put /registry/e2e/after ok')
  const etcdYaml = await lab.sh('master3', `cat ${MANIFESTS}/etcd.yaml`)
  t.notMatch(etcdYaml, /force-new-cluster/, 'no --force-new-cluster left in the manifest')
  t.match(etcdYaml, new RegExp(`--initial-cluster=master3=https://${lab.address('master3').replace(/\./g, '\\.')}:2380\\n`))
  t.match(await lab.sh('master3', `cat ${MANIFESTS}/kube-apiserver.yaml`), /--etcd-servers=https:\/\/127\.0\.0\.1:2379\n/, "the apiserver keeps kubeadm's local member, the survivor")
  t.match(await lab.sh('master3', `ls -A ${MANIFESTS}`), /^etcd\.yaml\nkube-apiserver\.yaml\n$/, 'nothing but the manifests in the watched directory')
  t.match(await lab.sh('master3', 'ls /etc/kubernetes/dr/backup'), /^etcd\.yaml\.old-/m, 'old manifests kept outside it')
  t.match(await lab.sh('master3', 'ls -d /var/lib/etcd.dr-before-failover-*'), /dr-before-failover/, 'data dir copy kept')
  const args = await lab.sh('master3', `docker inspect -f '{{.Name}} {{json .Args}}' "$(${runningEtcd})"`)
  t.match(args, /^\/k8s_etcd_etcd-master3_kube-system_/, 'the agent runs the pod under its kubelet name')
  t.notMatch(args, /force-new-cluster/, 'the running container has no --force-new-cluster')
  t.ok((await running('master3')).some((n) => n.startsWith('k8s_kube-apiserver_')), 'the apiserver pod runs')

  const again = await dr(['failover', '--site', 'B', '--yes', '--json'])
  t.equal(again.code, 0, again.stderr)
  t.equal(again.json().status, 'nothing-to-do', 'a second run has nothing to do')
  t.same(applied(again.json()), [], 'no step applied')
})

t.test('fence site A on kubeadm: manifests moved out, nothing runs, stays down across a reboot', async (t) => {
  await lab.startSite('A')
  const fp = await dr(['fence', '--site', 'A', '--plan', '--json'])
  t.equal(fp.code, 0, fp.stderr)
  t.match(JSON.stringify(fp.json().steps), /move \/etc\/kubernetes\/manifests\/etcd\.yaml out/)
  const f = await dr(['fence', '--site', 'A', '--yes', '--json'], { timeoutMs: 400_000 })
  t.equal(f.code, 0, f.stderr.slice(-3000))
  t.same(applied(f.json()), planned(fp.json()), 'the plan listed the steps the apply changed')
  t.same(f.json().steps.map((s: any) => s.id), ['fence-master1', 'fence-master2'])
  const check = async (when: string) => {
    for (const n of ['master1', 'master2']) {
      t.equal((await lab.sh(n, `ls ${MANIFESTS}`)).trim(), '', `${n}: no manifest left in the watched directory ${when}`)
      t.match(await lab.sh(n, 'ls /etc/kubernetes/dr/stopped'), /^etcd\.yaml\nkube-apiserver\.yaml\n$/, `${n}: manifests kept in /etc/kubernetes/dr/stopped ${when}`)
      t.notOk((await running(n)).some((x) => /^k8s_(etcd|kube-apiserver)_/.test(x)), `${n}: no etcd or apiserver container running ${when}`)
    }
  }
  await check('after the fence')
  t.match(await lab.sh('master1', 'cat /var/lib/dr/fence.json; ls -d /var/lib/etcd.dr-fenced-*'), /"site":"A"[\s\S]*dr-fenced-/)
  const again = await dr(['fence', '--site', 'A', '--yes', '--json'])
  t.equal(again.json().status, 'nothing-to-do', 'fencing twice changes nothing')

  await lab.stopSite('A')
  await lab.startSite('A')
  await new Promise((r) => setTimeout(r, 8000))
  await check('after a reboot')
  const st = await dr(['status', '--json'])
  t.equal(st.code, 0, 'quorum (site B) and no split brain')
  t.match(st.json().fences[0].summary, /returned and fenced/)
})

t.test('restore method on static pods: a new cluster ID, every key, verified, idempotent', async (t) => {
  await lab.fresh()
  await writeKeys()
  const oldId = await clusterId('master3')
  await lab.stopSite('A')
  const r = await dr(['failover', '--site', 'B', '--method', 'restore', '--yes', '--json'], { timeoutMs: 600_000 })
  t.equal(r.code, 0, r.stderr.slice(-3000))
  t.equal(r.json().status, 'succeeded')
  t.same(await memberNames('master3'), ['master3'])
  t.not(await clusterId('master3'), oldId, 'a new cluster ID')
  t.equal(await keyCount('master3'), KEYS, 'every key')
  const etcdYaml = await lab.sh('master3', `cat ${MANIFESTS}/etcd.yaml`)
  t.match(etcdYaml, /--initial-cluster-token=dr-b-/, 'the fresh token is in the manifest')
  t.notMatch(etcdYaml, /force-new-cluster/)
  t.match(await lab.sh('master3', 'ls -d /var/lib/etcd.dr-replaced-*'), /dr-replaced-/, 'the replaced member kept')
  const again = await dr(['failover', '--site', 'B', '--yes', '--json'])
  t.equal(again.code, 0, again.stderr)
  t.equal(again.json().status, 'nothing-to-do')
})
