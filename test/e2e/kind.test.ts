// The kind flavor (seeds 000/001): nodes whose only runtime is containerd, no sshd, reached with docker exec.
// `dr status` reads every member over the docker-exec transport; `dr failover --site B` rebuilds etcd on master3's
// static pod through containerd; a second run changes nothing; a returning site A is fenced (its pods stopped
// through containerd). Before that, a backup is verified and restored (etcdctl of the etcd image, run with ctr). Every check is made from outside dr too: `ctr -n k8s.io` in the node, etcdctl of the node,
// the manifests on disk. `dr check` asks containerd, not docker, and finds the static pods through ctr.
import t from 'tap'
import fs from 'node:fs'
import YAML from 'yaml'
import { TestLab } from '../helpers/lab.ts'
import { applied } from '../helpers/plan-vs-apply.ts'

const lab = new TestLab('e2e-kind', ['--flavor', 'kind'])
const dr = lab.dr.bind(lab)
const PKI = '/etc/kubernetes/pki'
const MANIFESTS = '/etc/kubernetes/manifests'
const KEYS = 50
const etcdctl = (node: string, args: string) =>
  lab.sh(node, `ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --cacert=${PKI}/etcd/ca.crt --cert=${PKI}/etcd/server.crt --key=${PKI}/etcd/server.key ${args}`)
const memberNames = async (node: string) => (JSON.parse(await etcdctl(node, 'member list -w json')) as { members: Array<{ name: string }> }).members.map((m) => m.name).sort()
/** The pod containers containerd runs in the node: `<container name> <task status>` per line, from ctr alone. */
const ctrPods = (node: string) =>
  lab.sh(node, `for name in etcd kube-apiserver; do
    for id in $(ctr -n k8s.io c ls -q "labels.\\"io.kubernetes.container.name\\"==$name,labels.\\"io.kubernetes.pod.namespace\\"==kube-system"); do
      st=$(ctr -n k8s.io t ls | awk -v id="$id" '$1 == id { print $3 }')
      echo "$name \${st:-NOTASK} $id"
    done
  done`)
const runningIds = async (node: string, name: string) => (await ctrPods(node)).split('\n').filter((l) => l.startsWith(`${name} RUNNING `)).map((l) => l.split(' ')[2])

t.before(async () => {
  await lab.fresh()
  const put = `etcdctl --endpoints=https://127.0.0.1:2379 --cacert=${PKI}/etcd/ca.crt --cert=${PKI}/etcd/server.crt --key=${PKI}/etcd/server.key put`
  await lab.sh('master1', `for i in $(seq 1 ${KEYS}); do ${put} /registry/e2e/key-$i value-$i >/dev/null; done`, 300_000)
})
t.teardown(() => lab.down())

t.test('a kind lab: containerd only, no sshd, a docker-exec inventory; dr status reads every member', async (t) => {
  const inv = YAML.parse(fs.readFileSync(lab.inventory, 'utf8'))
  t.equal(inv.flavor, 'kind')
  t.notOk(inv.ssh, 'no ssh settings')
  for (const [name, h] of Object.entries(inv.hosts as Record<string, { transport: string; container: string }>)) {
    t.same([h.transport, h.container], ['docker-exec', lab.container(name)], `${name} is reached with docker exec on its container`)
  }
  const procs = await lab.sh('master1', "ps -eo comm= | sort -u | tr '\\n' ' '")
  t.match(procs, /\bcontainerd\b/, 'containerd runs in the node')
  t.notMatch(procs, /\bdockerd\b|\bsshd\b/, 'no dockerd and no sshd in the node')
  // One running container per pod container (a first attempt that failed to start on a busy machine stays as the
  // pod's one dead container, as the kubelet keeps it).
  for (const name of ['etcd', 'kube-apiserver']) {
    t.equal((await runningIds('master1', name)).length, 1, `${name} runs as one containerd container: ${await ctrPods('master1')}`)
  }

  const st = await dr(['status', '--json'])
  t.equal(st.code, 0, st.stderr)
  const members = st.json().members as Array<{ host: string; reachable: boolean; quorumRead: boolean; listed: boolean }>
  t.same(members.map((m) => [m.host, m.reachable, m.quorumRead, m.listed]), [['master1', true, true, true], ['master2', true, true, true], ['master3', true, true, true]], 'every member read')
})

t.test('dr check on containerd: the runtime asked is containerd, the static pods found through ctr; a stopped containerd is named', async (t) => {
  type Result = { category: string; check: string; subject: string; status: string; message: string; evidence?: string[] }
  const all = await dr(['check', 'preflight', 'nodes', 'etcd', 'kubernetes', '--json'])
  t.equal(all.code, 0, all.stdout.slice(-2000))
  const rs = all.json().results as Result[]
  t.same(rs.filter((r) => r.status !== 'ok'), [], 'every check OK on a healthy kind lab')
  const hosts = ['master1', 'master2', 'node1', 'master3', 'node2']
  const version = (await lab.sh('node1', "ctr version | sed -n '/^Server:/,$p' | awk '/Version:/ {print $2}'")).trim()
  for (const h of hosts) t.match(rs.find((r) => r.check === 'containerd-running' && r.subject === h)?.message, `containerd ${version} answers`, `${h}: containerd asked, not docker`)
  t.notOk(rs.some((r) => r.check === 'docker-running'), 'no docker check on nodes without docker')
  for (const m of ['master1', 'master2', 'master3']) {
    const containers = rs.filter((r) => r.check === 'container' && r.subject === m).map((r) => r.message.split(' ')[0]).sort()
    t.same(containers, ['etcd', 'kube-apiserver'], `${m}: both static pods found running`)
    t.ok(rs.some((r) => r.check === 'cert-expiry' && r.subject === m && r.message.startsWith(`${PKI}/etcd/server.crt`)), `${m}: the certificate named in etcd's argv, read from the ctr spec`)
  }

  // containerd stopped on a worker (its init starts it again below): FAIL, with ctr's own words as the evidence.
  await lab.sh('node1', 'pkill -x containerd; while pgrep -x containerd >/dev/null; do sleep 0.1; done')
  t.teardown(() => lab.sh('node1', 'pgrep -x containerd >/dev/null || (containerd >>/var/log/containerd.log 2>&1 &); until ctr version >/dev/null 2>&1; do sleep 0.2; done'))
  const down = await dr(['check', 'preflight', '--json'])
  t.equal(down.code, 5, 'a FAIL is exit 5')
  const r = (down.json().results as Result[]).find((x) => x.check === 'containerd-running' && x.subject === 'node1')!
  t.equal(r.status, 'fail')
  t.match(r.evidence?.join('\n'), /containerd\.sock/, "ctr's error names the socket it could not reach")
  t.match(JSON.stringify(r), /systemctl start containerd/)
  await lab.sh('node1', '(containerd >>/var/log/containerd.log 2>&1 &); until ctr version >/dev/null 2>&1; do sleep 0.2; done')
  const back = await dr(['check', 'preflight', '--json'])
  t.equal(back.code, 0, 'OK again once containerd runs')
})

t.test('backup now --verify and backup restore on containerd (etcdctl of the etcd image, run with ctr)', async (t) => {
  const b = await dr(['backup', 'now', '--verify', '--json'], { timeoutMs: 300_000 })
  t.equal(b.code, 0, b.stderr.slice(-3000))
  t.equal(b.json().verify.ok, true, 'verified by a throwaway restore')
  const id = b.json().id as string
  await etcdctl('master1', 'put /registry/e2e/after-backup yes')
  const r = await dr(['backup', 'restore', id, '--force', '--yes', '--json'], { timeoutMs: 600_000 })
  t.equal(r.code, 0, r.stderr.slice(-3000))
  t.equal(r.json().status, 'succeeded')
  t.same(await memberNames('master1'), ['master1', 'master2', 'master3'], 'three members again')
  t.equal((await etcdctl('master3', 'get /registry/e2e/ --prefix --keys-only')).split('\n').filter((l) => l.includes('key-')).length, KEYS, 'the keys of the backup')
  t.equal((await etcdctl('master3', 'get /registry/e2e/after-backup')).trim(), '', 'a key written after the backup is gone')
  for (const n of ['master1', 'master2', 'master3']) {
    t.equal((await runningIds(n, 'etcd')).length, 1, `${n}: one etcd container runs`)
    t.equal((await lab.sh(n, 'ctr -n k8s.io c ls -q | grep -c dr-run- || true')).trim(), '0', `${n}: the throwaway restore container is gone`)
  }
})

/** The pods the stand-in's etcd binds to these Nodes (read with the node's etcdctl: the stand-in stores JSON). */
const podsBoundTo = async (node: string, nodes: string[]) =>
  (await etcdctl(node, 'get /registry/pods/ --prefix --print-value-only'))
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { metadata: { name: string }; spec?: { nodeName?: string } })
    .filter((p) => nodes.includes(p.spec?.nodeName ?? ''))
    .map((p) => p.metadata.name)

t.test('failover --site B on containerd: verified, checked from outside, a second run is a no-op', async (t) => {
  const siteA = ['master1', 'master2', 'node1']
  const onA = await podsBoundTo('master3', siteA)
  t.ok(onA.length >= 1, `site A runs pods before it is lost: ${onA.join(', ')}`)
  await lab.stopSite('A')
  const before = await runningIds('master3', 'etcd')
  t.equal(before.length, 1, 'one etcd container runs on master3 before')
  const r = await dr(['failover', '--site', 'B', '--yes', '--json'], { timeoutMs: 600_000 })
  t.equal(r.code, 0, r.stderr.slice(-3000))
  const rep = r.json()
  t.equal(rep.status, 'succeeded')
  t.match(rep.verification.join('\n'), /quorum read and write through master3: ok/)
  t.match(rep.verification.join('\n'), /kube-apiserver on master3: ready/)
  // The lost Nodes' pods are force-deleted by dr itself: the pod GC (the stand-in's as the real one) removes an
  // orphan only 40 s after its Node went.
  const released = Number(/(\d+) pod\(s\) force-deleted/.exec(rep.steps.find((x: { id: string }) => x.id === 'taint-dead-nodes')?.evidence ?? '')?.[1] ?? 0)
  t.equal(released, onA.length, `every pod on site A force-deleted by dr (${onA.join(', ')})`)
  t.same(await podsBoundTo('master3', siteA), [], 'no pod bound to a lost Node (etcd, read from outside dr)')

  // From outside dr: containerd, etcdctl of the node, the manifests.
  const now = await runningIds('master3', 'etcd')
  t.equal(now.length, 1, 'one etcd container runs on master3')
  t.not(now[0], before[0], 'a new etcd container (the pod was re-created)')
  const args = JSON.parse(await lab.sh('master3', `ctr -n k8s.io c info --spec ${now[0]}`)).process.args as string[]
  t.equal(args[0], 'etcd')
  t.notOk(args.includes('--force-new-cluster'), 'the running etcd has no --force-new-cluster')
  t.ok(args.includes(`--initial-cluster=master3=https://${lab.address('master3')}:2380`), 'the running etcd has itself as the only initial member')
  t.same(await memberNames('master3'), ['master3'], 'etcdctl in the node lists one member')
  t.equal((await etcdctl('master3', 'get /registry/e2e/ --prefix --keys-only')).split('\n').filter((l) => l.includes('key-')).length, KEYS, 'every key written before the loss is there')
  const etcdYaml = await lab.sh('master3', `cat ${MANIFESTS}/etcd.yaml`)
  t.notMatch(etcdYaml, /force-new-cluster/, 'no --force-new-cluster in the manifest')
  t.match(await lab.sh('master3', `ls -A ${MANIFESTS}`), /^etcd\.yaml\nkube-apiserver\.yaml\n$/, 'nothing but the manifests in the watched directory')
  t.match(await lab.sh('master3', 'ls /etc/kubernetes/dr/backup'), /^etcd\.yaml\.old-/m, 'old manifests kept outside it')
  t.equal((await runningIds('master3', 'kube-apiserver')).length, 1, 'the apiserver pod runs')

  const again = await dr(['failover', '--site', 'B', '--yes', '--json'])
  t.equal(again.code, 0, again.stderr)
  t.equal(again.json().status, 'nothing-to-do', 'a second run has nothing to do')
  t.same(applied(again.json()), [], 'no step applied')
  t.same(await runningIds('master3', 'etcd'), now, 'the same etcd container still runs')
})

t.test('fence site A when it returns: its pods stopped through containerd', async (t) => {
  await lab.startSite('A')
  const f = await dr(['fence', '--site', 'A', '--yes', '--json'], { timeoutMs: 400_000 })
  t.equal(f.code, 0, f.stderr.slice(-3000))
  for (const n of ['master1', 'master2']) {
    t.equal((await lab.sh(n, `ls ${MANIFESTS}`)).trim(), '', `${n}: no manifest left in the watched directory`)
    t.notMatch(await ctrPods(n), / RUNNING /, `${n}: no pod container runs (ctr)`)
  }
  const st = await dr(['status', '--json'])
  t.equal(st.code, 0, 'quorum (site B) and no split brain')
})
