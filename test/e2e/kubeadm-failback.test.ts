// dr failback on the kubeadm flavor (static pods run by the lab's kubelet stand-in; site A: master1, master2; site
// B: master3; no workers): site A is lost, dr failover --site B, site A comes back unfenced, dr failback --site A
// brings it home. Checked from outside dr: kubeadm's own record (kube-system/kubeadm-config's ClusterStatus, read
// with real kubectl 1.20 as written by the lab as kubeadm 1.20 writes it), etcdctl inside the node's etcd container,
// the manifests on disk, the containers the kubelet stand-in runs. --plan changes nothing, a run killed in the
// middle resumes, a second failback changes nothing.
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import YAML from 'yaml'
import { ROOT } from '../helpers/dr.ts'
import { TestLab } from '../helpers/lab.ts'
import { applied } from '../helpers/plan-vs-apply.ts'

const run = promisify(execFile)
const lab = new TestLab('e2e-kadm-fb', ['--flavor', 'kubeadm', '--workers', '0'])
const MASTERS = ['master1', 'master2', 'master3']
const PKI = '/etc/kubernetes/pki'
const MANIFESTS = '/etc/kubernetes/manifests'
const running = (name: string) => `$(docker ps -q --filter label=io.kubernetes.container.name=${name} --filter status=running | head -n1)`
const etcdctl = (node: string, args: string) =>
  lab.sh(node, `docker exec "${running('etcd')}" etcdctl --endpoints=https://127.0.0.1:2379 --cacert=${PKI}/etcd/ca.crt --cert=${PKI}/etcd/server.crt --key=${PKI}/etcd/server.key ${args}`)
const members = async (via: string) =>
  (JSON.parse(await etcdctl(via, 'member list -w json')).members as Array<{ name: string; isLearner?: boolean }>)
const flag = (text: string, f: string) => new RegExp(`^\\s*- ${f}=(.*)$`, 'm').exec(text)?.[1]
const containers = async (node: string) => (await lab.sh(node, "docker ps --format '{{.Names}}'")).split('\n').filter(Boolean)

// Real kubectl (Debian's kubernetes-client 1.20; scripts/lib/ensure.sh installs it or unpacks it in .lab-cache).
const unpacked = path.join(ROOT, '.lab-cache/kubernetes-client/usr/bin/kubectl')
const KUBECTL = process.env.DR_KUBECTL ?? (fs.existsSync(unpacked) ? unpacked : 'kubectl')
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-kadm-fb-'))
/** kubectl with the lab's admin kubeconfig, talking to `node`'s apiserver (site A's are down at times). */
async function kubectl(node: string, args: string[]): Promise<string> {
  const inv = YAML.parse(fs.readFileSync(lab.inventory, 'utf8'))
  const kubeconfig = path.resolve(path.dirname(lab.inventory), inv.kubernetes.kubeconfig)
  const { stdout } = await run(KUBECTL, ['--kubeconfig', kubeconfig, `--server=https://${lab.address(node)}:6443`, '--request-timeout=20s', ...args], { env: { ...process.env, HOME: home }, timeout: 60_000 })
  return stdout
}
/** ClusterStatus's apiEndpoints, node name → address, as kubectl reads the ConfigMap through `node`'s apiserver. */
async function clusterStatus(node: string): Promise<Record<string, string>> {
  const text = await kubectl(node, ['get', 'configmap', 'kubeadm-config', '-n', 'kube-system', '-o', 'jsonpath={.data.ClusterStatus}'])
  const doc = YAML.parse(text) as { kind: string; apiEndpoints: Record<string, { advertiseAddress: string; bindPort: number }> }
  if (doc.kind !== 'ClusterStatus') throw new Error(`not a ClusterStatus: ${text}`)
  return Object.fromEntries(Object.entries(doc.apiEndpoints).map(([n, e]) => [n, `${e.advertiseAddress}:${e.bindPort}`]))
}
const endpoints = (...nodes: string[]) => Object.fromEntries(nodes.map((n) => [n, `${lab.address(n)}:6443`]))

t.before(async () => {
  await lab.freshWithRetry((m) => t.comment(m))
  await etcdctl('master1', 'put /registry/e2e-kadm-fb/before-loss yes')
})
t.teardown(async () => {
  fs.rmSync(home, { recursive: true, force: true })
  await lab.down()
})

t.test('the lab keeps kubeadm-config as kubeadm 1.20 does: every control-plane node in ClusterStatus', async (t) => {
  const table = (await kubectl('master1', ['get', 'cm', '-n', 'kube-system'])).trim().split('\n').map((l) => l.trim().split(/\s{2,}/))
  t.same(table[0], ['NAME', 'DATA', 'AGE'])
  t.match(table.find((r) => r[0] === 'kubeadm-config'), ['kubeadm-config', '2', /^\d/])
  t.same(await clusterStatus('master1'), endpoints(...MASTERS))
  t.match(await kubectl('master1', ['get', 'cm', 'kubeadm-config', '-n', 'kube-system', '-o', 'jsonpath={.data.ClusterConfiguration}']), /^kind: ClusterConfiguration$/m)
})

t.test('failover to site B: ClusterStatus lists exactly the surviving control-plane host', async (t) => {
  await lab.stopSite('A')
  const r = await lab.dr(['failover', '--site', 'B', '--yes', '--json'], { timeoutMs: 600_000 })
  t.equal(r.code, 0, r.stderr.slice(-3000))
  const step = r.json().steps.find((s: { id: string }) => s.id === 'kubeadm-config-cluster-status')
  t.match(step, { outcome: 'done', evidence: /removed master1, removed master2/ })
  t.same(await clusterStatus('master3'), endpoints('master3'), 'read with kubectl through master3')
  // The same object where the API keeps it: etcd, under the real key.
  const stored = JSON.parse(await etcdctl('master3', 'get /registry/configmaps/kube-system/kubeadm-config --print-value-only'))
  t.same(Object.keys(YAML.parse(stored.data.ClusterStatus).apiEndpoints), ['master3'], 'and in etcd')
  t.same((await members('master3')).map((m) => m.name), ['master3'])
  await etcdctl('master3', 'put /registry/e2e-kadm-fb/during-failover yes')
})

t.test('failback of site A: every member back, manifests and pods as kubeadm has them, ClusterStatus lists every control-plane host', async (t) => {
  await lab.startSite('A')
  // --plan: the ClusterStatus step is in it, and nothing changes (site A's manifests stay where the failover left them).
  const disk = () => Promise.all(MASTERS.map((n) => lab.sh(n, `ls -A ${MANIFESTS} /etc/kubernetes/dr/stopped 2>&1; cat ${MANIFESTS}/*.yaml`)))
  const before = await disk()
  const plan = await lab.dr(['failback', '--site', 'A', '--plan', '--json'], { timeoutMs: 300_000 })
  t.equal(plan.code, 0, plan.stderr.slice(-3000))
  t.match(plan.json().steps.find((s: { id: string }) => s.id === 'kubeadm-config-cluster-status')?.changes[0]?.summary, /ClusterStatus list exactly the control-plane hosts that are etcd members/)
  t.same(await disk(), before, '--plan changed no manifest')
  t.same(await clusterStatus('master3'), endpoints('master3'), '--plan left ClusterStatus alone')

  // Killed right after master1 joined as a learner (its manifest written, its pod started): the next run resumes.
  const crashed = await lab.dr(['failback', '--site', 'A', '--yes'], { timeoutMs: 900_000, env: { DR_TEST_CRASH_AFTER_STEP: 'member-add-learner-master1' } })
  t.equal(crashed.signal, 'SIGKILL', 'killed in the middle', { stderr: crashed.stderr.slice(-2000) })

  const r = await lab.dr(['failback', '--site', 'A', '--yes', '--json'], { timeoutMs: 900_000 })
  t.equal(r.code, 0, r.stderr.slice(-3000))
  t.equal(r.json().status, 'succeeded')
  t.match(r.json().steps.find((s: { id: string }) => s.id === 'kubeadm-config-cluster-status'), { outcome: 'done', evidence: /added master1, added master2/ })

  // etcd, from inside a node.
  const list = await members('master3')
  t.same(list.map((m) => m.name).sort(), MASTERS, 'three members')
  t.notOk(list.some((m) => m.isLearner), 'none of them a learner')
  t.equal((await etcdctl('master1', 'get /registry/e2e-kadm-fb/during-failover --print-value-only')).trim(), 'yes', 'master1 serves what was written during the failover')
  t.equal((await etcdctl('master2', 'get /registry/e2e-kadm-fb/before-loss --print-value-only')).trim(), 'yes')

  // The manifests on disk and the containers the kubelet stand-in runs from them.
  for (const n of MASTERS) {
    t.equal(await lab.sh(n, `ls -A ${MANIFESTS}`), 'etcd.yaml\nkube-apiserver.yaml\n', `${n}: both manifests, nothing else, in the watched directory`)
    t.equal((await lab.sh(n, 'ls -A /etc/kubernetes/dr/stopped 2>/dev/null || true')).trim(), '', `${n}: nothing left stopped`)
    const etcd = await lab.sh(n, `cat ${MANIFESTS}/etcd.yaml`)
    t.equal(flag(etcd, '--name'), n)
    t.notMatch(etcd, /force-new-cluster/, `${n}: no --force-new-cluster`)
    t.equal(flag(await lab.sh(n, `cat ${MANIFESTS}/kube-apiserver.yaml`), '--etcd-servers'), 'https://127.0.0.1:2379', `${n}: the apiserver on its own member, as kubeadm has it`)
    const names = await containers(n)
    t.ok(names.some((c) => c.startsWith(`k8s_etcd_etcd-${n}_kube-system_`)), `${n}: the etcd pod runs`)
    t.ok(names.some((c) => c.startsWith(`k8s_kube-apiserver_kube-apiserver-${n}_kube-system_`)), `${n}: the kube-apiserver pod runs`)
  }
  for (const n of ['master1', 'master2']) {
    const etcd = await lab.sh(n, `cat ${MANIFESTS}/etcd.yaml`)
    t.equal(flag(etcd, '--initial-cluster-state'), 'existing', `${n}: joined as a new member`)
    t.match(await lab.sh(n, 'ls -d /var/lib/etcd.dr-*'), /dr-fenced-|dr-quarantined-/, `${n}: its old data kept aside, not merged`)
  }

  // kubeadm's record, read through a returning apiserver and through the survivor's.
  t.same(await clusterStatus('master1'), endpoints(...MASTERS))
  t.same(await clusterStatus('master3'), endpoints(...MASTERS))
  const st = await lab.dr(['status', '--json'])
  t.equal(st.code, 0, 'dr status: quorum, no split brain')
})

t.test('a second failback changes nothing', async (t) => {
  const before = await kubectl('master3', ['get', 'cm', 'kubeadm-config', '-n', 'kube-system', '-o', 'jsonpath={.metadata.resourceVersion}'])
  const again = await lab.dr(['failback', '--site', 'A', '--yes', '--json'], { timeoutMs: 300_000 })
  t.equal(again.code, 0, again.stderr.slice(-2000))
  t.equal(again.json().status, 'nothing-to-do')
  t.same(applied(again.json()), [], 'no step applied')
  t.equal(await kubectl('master3', ['get', 'cm', 'kubeadm-config', '-n', 'kube-system', '-o', 'jsonpath={.metadata.resourceVersion}']), before, 'kubeadm-config not written again')
})
