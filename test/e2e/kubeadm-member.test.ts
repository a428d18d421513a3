// dr member and dr backup restore on the kubeadm flavor (static pods run by the lab's kubelet stand-in), checked
// from outside dr: etcdctl inside the node's etcd container, the manifests on disk, the containers the agent runs,
// kubeadm's ClusterStatus (kube-system/kubeadm-config) in etcd.
// remove master3 (its manifest moved out, its data kept aside, every apiserver repointed), add it back (learner,
// caught up, promoted, with an empty data dir and --initial-cluster-state=existing), a second add has nothing to
// do; then every member's data is lost and `dr backup restore` brings the backup's keys back, and only those.
import t from 'tap'
import YAML from 'yaml'
import { TestLab } from '../helpers/lab.ts'

const lab = new TestLab('e2e-kadm-mb', ['--flavor', 'kubeadm', '--workers', '0'])
const PKI = '/etc/kubernetes/pki'
const MASTERS = ['master1', 'master2', 'master3']
const runningIds = (name: string) => `docker ps -q --filter label=io.kubernetes.container.name=${name} --filter status=running`
const running = (name: string) => `$(${runningIds(name)} | head -n1)`
const etcdctl = (node: string, args: string) =>
  lab.sh(node, `docker exec "${running('etcd')}" etcdctl --endpoints=https://127.0.0.1:2379 --cacert=${PKI}/etcd/ca.crt --cert=${PKI}/etcd/server.crt --key=${PKI}/etcd/server.key ${args}`)
const members = async (via: string) =>
  (JSON.parse(await etcdctl(via, 'member list -w json')).members as Array<{ name: string; peerURLs: string[]; isLearner?: boolean }>)
const manifest = (node: string, name: string) => lab.sh(node, `cat /etc/kubernetes/manifests/${name}.yaml`)
const flag = (text: string, f: string) => new RegExp(`^\\s*- ${f}=(.*)$`, 'm').exec(text)?.[1]
const urls = (...nodes: string[]) => nodes.map((n) => `https://${lab.address(n)}:2379`).sort()
/** --etcd-servers of the apiserver's manifest on disk, and of the container the agent runs from it. */
const LOOPBACK = ['https://127.0.0.1:2379']
const etcdServers = async (node: string) => {
  const disk = (flag(await manifest(node, 'kube-apiserver'), '--etcd-servers') ?? '').split(',').sort()
  const args = JSON.parse(await lab.sh(node, `docker inspect -f '{{json .Args}}' "${running('kube-apiserver')}"`)) as string[]
  const live = (args.find((a) => a.startsWith('--etcd-servers='))?.slice('--etcd-servers='.length) ?? '').split(',').sort()
  return { disk, live }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
/** kube-system/kubeadm-config's ClusterStatus as stored in etcd (the stand-in keeps objects as JSON): name → address:port. */
const clusterStatus = async (node: string) => {
  const cm = JSON.parse(await etcdctl(node, 'get /registry/configmaps/kube-system/kubeadm-config --print-value-only'))
  const eps = YAML.parse(cm.data.ClusterStatus).apiEndpoints as Record<string, { advertiseAddress: string; bindPort: number }>
  return Object.fromEntries(Object.entries(eps).map(([n, e]) => [n, `${e.advertiseAddress}:${e.bindPort}`]))
}
const endpoints = (...nodes: string[]) => Object.fromEntries(nodes.map((n) => [n, `${lab.address(n)}:6443`]))

t.before(async () => {
  await lab.fresh()
  await etcdctl('master1', 'put /registry/e2e-kadm/before yes')
})
t.teardown(() => lab.down())

t.test('member remove master3: apiservers repointed, member removed, its static pod stopped and its data kept', async (t) => {
  const r = await lab.dr(['member', 'remove', 'master3', '--yes', '--json'], { timeoutMs: 600_000 })
  t.equal(r.code, 0, r.stderr.slice(-3000))
  // kubeadm's own record (written by the lab as kubeadm 1.20 does): master3 no longer listed.
  t.match(r.json().steps.find((s: { id: string }) => s.id === 'kubeadm-config-cluster-status'), { outcome: 'done', evidence: /removed master3/ })
  t.same(await clusterStatus('master1'), endpoints('master1', 'master2'), 'ClusterStatus lists master1 and master2 (read in etcd)')
  t.same((await members('master1')).map((m) => m.name).sort(), ['master1', 'master2'])
  t.equal((await lab.sh('master3', 'ls -A /etc/kubernetes/manifests')).trim(), 'kube-apiserver.yaml', "etcd's manifest moved out of the manifests dir")
  t.match(await lab.sh('master3', 'cat /etc/kubernetes/dr/stopped/etcd.yaml'), /--name=master3/, 'and kept in /etc/kubernetes/dr/stopped')
  t.notOk(/^k8s_etcd_\S+ running$/m.test(await lab.sh('master3', "docker ps -a --format '{{.Names}} {{.State}}'")), 'no etcd container runs on master3')
  t.match(await lab.sh('master3', 'ls -d /var/lib/etcd.dr-removed-*'), /dr-removed-/, 'its data kept aside')
  // kubeadm's apiserver talks to its own member through loopback: left so while that member is live (master1,
  // master2); master3's own member is gone, so its apiserver now names the live members.
  for (const n of ['master1', 'master2']) t.same(await etcdServers(n), { disk: LOOPBACK, live: LOOPBACK }, `${n}'s apiserver still on its own member (manifest and container)`)
  t.same(await etcdServers('master3'), { disk: urls('master1', 'master2'), live: urls('master1', 'master2') }, "master3's apiserver on the live members (manifest and container)")
})

t.test('member add master3 as a fresh host: its manifest from a member\'s, a learner with an empty data dir, caught up, promoted; a second run has nothing to do', async (t) => {
  // No etcd manifest left at all (as on a rebuilt host): dr makes it from a member's, with master3's name and address.
  await lab.sh('master3', 'mv /etc/kubernetes/dr/stopped/etcd.yaml /root/etcd.yaml.removed')
  const plan = await lab.dr(['member', 'add', 'master3', '--plan', '--json'], { timeoutMs: 300_000 })
  t.equal(plan.code, 0, plan.stderr.slice(-2000))
  const planned = plan.json().steps as Array<{ id: string; changes: Array<{ summary: string }> }>
  t.match(planned.find((s) => s.id === 'member-container-master3')?.changes[0]?.summary, /^write \/etc\/kubernetes\/dr\/stopped\/etcd\.yaml from master[12]'s/, "planned: made from a member's manifest")
  t.equal((await lab.sh('master3', 'ls /etc/kubernetes/dr/stopped/')).trim(), '', '--plan changes nothing')
  // Killed once its manifest is written (not started), and once the learner runs: each run resumes.
  for (const step of ['member-container-master3', 'member-start-master3']) {
    const k = await lab.dr(['member', 'add', 'master3', '--yes'], { timeoutMs: 600_000, env: { DR_TEST_CRASH_AFTER_STEP: step } })
    t.equal(k.signal, 'SIGKILL', `killed after ${step}`, { stderr: k.stderr.slice(-2000) })
  }
  t.match(await lab.sh('master3', 'cat /etc/kubernetes/manifests/etcd.yaml'), /--initial-cluster-state=existing/, 'the learner runs from its new manifest')
  t.equal((await members('master1')).find((m) => m.name === 'master3')?.isLearner, true, 'master3 is a started learner, not yet promoted')
  const r = await lab.dr(['member', 'add', 'master3', '--yes', '--json'], { timeoutMs: 600_000 })
  t.equal(r.code, 0, r.stderr.slice(-3000))
  const steps = r.json().steps as Array<{ id: string; outcome: string; evidence?: string; changes: Array<{ summary: string }> }>
  t.equal(steps.find((s) => s.id === 'member-start-master3')?.outcome, 'nothing-to-do', 'resumed after the learner was started')
  t.equal(steps.find((s) => s.id === 'member-promote-master3')?.outcome, 'done', 'then promoted')
  const list = await members('master1')
  t.same(list.map((m) => m.name).sort(), MASTERS)
  t.notOk(list.some((m) => m.isLearner), 'no learner left')
  const etcd = await manifest('master3', 'etcd')
  t.equal(flag(etcd, '--name'), 'master3')
  t.equal(flag(etcd, '--listen-peer-urls'), `https://${lab.address('master3')}:2380`)
  t.equal(flag(etcd, '--initial-cluster-state'), 'existing')
  t.same(flag(etcd, '--initial-cluster')?.split(',').sort(), MASTERS.map((n) => `${n}=https://${lab.address(n)}:2380`))
  t.equal((await lab.sh('master3', 'ls /etc/kubernetes/dr/stopped/ 2>/dev/null || true')).trim(), '', 'nothing left stopped')
  t.equal((await etcdctl('master3', 'get /registry/e2e-kadm/before --print-value-only')).trim(), 'yes', 'master3 serves the data')
  for (const n of ['master1', 'master2']) t.same(await etcdServers(n), { disk: LOOPBACK, live: LOOPBACK }, `${n}'s apiserver still on its own member`)
  t.same(await etcdServers('master3'), { disk: urls(...MASTERS), live: urls(...MASTERS) }, "master3's apiserver names every member (manifest and container)")
  t.same(await clusterStatus('master2'), endpoints(...MASTERS), 'ClusterStatus lists master3 again (read in etcd)')

  const again = await lab.dr(['member', 'add', 'master3', '--yes', '--json'], { timeoutMs: 300_000 })
  t.equal(again.code, 0, again.stderr.slice(-2000))
  t.equal(again.json().status, 'nothing-to-do', 'a second run has nothing to do')
})

t.test('backup restore: every member lost, the backup brings its keys back and only those', async (t) => {
  await etcdctl('master1', 'put /registry/e2e-kadm/pre in-backup')
  const b = await lab.dr(['backup', 'now', '--json'], { timeoutMs: 300_000 })
  t.equal(b.code, 0, b.stderr.slice(-2000))
  const id = b.json().id as string
  await etcdctl('master1', 'put /registry/e2e-kadm/post after-backup')
  // Every member's disk lost: the data dir's member/ is gone (a file in its place, so etcd cannot start afresh),
  // then each etcd is killed; the kubelet restarts it and it crash-loops. An etcd may have died of the lost dir on
  // its own already and be between restarts: then there is nothing running to kill, and a kill that meets it just
  // exiting is the same. 'no quorum' below is what proves the loss.
  for (const n of MASTERS) await lab.sh(n, 'rm -rf /var/lib/etcd/member && touch /var/lib/etcd/member')
  const killEtcd = `for id in $(${runningIds('etcd')}); do docker kill "$id" >/dev/null 2>&1 || true; done`
  for (const n of MASTERS) await lab.sh(n, killEtcd)
  await sleep(3000)
  const s = await lab.dr(['status', '--json'])
  t.equal(s.json().verdict.hasQuorum, false, 'no quorum before the restore')

  const r = await lab.dr(['backup', 'restore', id, '--yes', '--json'], { timeoutMs: 600_000 })
  t.equal(r.code, 0, r.stderr.slice(-3000))
  const token = flag(await manifest('master1', 'etcd'), '--initial-cluster-token')
  t.match(token, /^dr-restore-/, 'etcd runs with the fresh token (manifest on disk)')
  for (const n of MASTERS) {
    t.equal(flag(await manifest(n, 'etcd'), '--initial-cluster-token'), token, `${n}: same token`)
    t.match(await lab.sh(n, 'ls -d /var/lib/etcd.dr-before-restore-*'), /dr-before-restore-/, `${n}: old data kept aside`)
  }
  t.same((await members('master2')).map((m) => m.name).sort(), MASTERS)
  t.equal((await etcdctl('master3', 'get /registry/e2e-kadm/pre --print-value-only')).trim(), 'in-backup', 'written before the backup: there')
  t.equal((await etcdctl('master3', 'get /registry/e2e-kadm/before --print-value-only')).trim(), 'yes')
  t.equal((await etcdctl('master3', 'get /registry/e2e-kadm/post --print-value-only')).trim(), '', 'written after it: gone')
  await etcdctl('master2', 'put /registry/e2e-kadm/after-restore ok')
  t.equal((await etcdctl('master1', 'get /registry/e2e-kadm/after-restore --print-value-only')).trim(), 'ok', 'quorum: a write through one member is read through another')
})
