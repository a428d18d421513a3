// The kubeadm flavor end to end: `dr lab up --flavor kubeadm` makes static pods run by the kubelet stand-in; dr
// status and dr backup work on it; the static-pod component edits, stops and starts etcd through its manifest over
// SSH. Every check is made from outside dr too: the manifests on disk, the containers the agent runs (kubelet
// names), etcdctl inside the node's etcd container.
import { execFileSync } from 'node:child_process'
import t from 'tap'
import { dr } from '../helpers/dr.ts'
import { TestLab } from '../helpers/lab.ts'
import { loadInventory } from '../../src/inventory/load.ts'
import { Connections } from '../../src/transport/connect.ts'
import { componentOf } from '../../src/component/index.ts'

const lab = new TestLab('e2e-kubeadm')
const labCmd = async (args: string[]) => {
  const r = await dr(['lab', ...args, '--name', lab.name], { timeoutMs: 900_000 })
  if (r.code !== 0) throw new Error(`dr lab ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr.slice(-3000)}`)
  return r
}
const PKI = '/etc/kubernetes/pki'
const etcdctl = (node: string, args: string) =>
  lab.sh(node, `docker exec "$(docker ps -q --filter label=io.kubernetes.container.name=etcd --filter status=running | head -n1)" etcdctl --endpoints=https://127.0.0.1:2379 --cacert=${PKI}/etcd/ca.crt --cert=${PKI}/etcd/server.crt --key=${PKI}/etcd/server.key ${args} 2>&1`)
const names = async (node: string) => (await lab.sh(node, "docker ps -a --format '{{.Names}} {{.State}}'")).split('\n').filter(Boolean)

t.before(async () => {
  await labCmd(['down'])
  const up = await labCmd(['up', '--flavor', 'kubeadm', '--json'])
  t.equal(JSON.parse(up.stdout).flavor, 'kubeadm')
})
t.teardown(() => labCmd(['down']))

t.test('kubeadm layout on disk and kubelet-named containers', async (t) => {
  t.match(await lab.sh('master1', 'ls -A /etc/kubernetes/manifests'), /^etcd\.yaml\nkube-apiserver\.yaml\n$/, 'only the component manifests')
  t.equal((await lab.sh('node1', 'ls /etc/kubernetes/manifests 2>/dev/null || true')).trim(), '', 'a worker runs no control plane')
  const manifest = await lab.sh('master3', 'cat /etc/kubernetes/manifests/etcd.yaml')
  t.match(manifest, /^  - command:\n    - etcd\n/m, "kubeadm's layout")
  t.match(manifest, /--data-dir=\/var\/lib\/etcd\n/)
  t.match(manifest, /--name=master3\n/)
  t.match(await lab.sh('master3', 'cat /etc/kubernetes/manifests/kube-apiserver.yaml'), /--etcd-servers=https:\/\/127\.0\.0\.1:2379\n/, 'the apiserver talks to its local member')
  t.match(await lab.sh('master3', `ls ${PKI}/etcd`), /^ca\.crt\n[\s\S]*^server\.crt\nserver\.key\n/m)
  t.match(await lab.sh('master3', `ls ${PKI}`), /^apiserver-etcd-client\.crt\napiserver-etcd-client\.key\n/m)
  const pem = await lab.sh('master3', `cat ${PKI}/etcd/server.crt`)
  const san = execFileSync('openssl', ['x509', '-noout', '-ext', 'subjectAltName'], { input: pem }).toString()
  t.match(san, /IP Address:127\.0\.0\.1/, 'the etcd server certificate is valid for 127.0.0.1')
  t.match(san, /DNS:localhost/)
  const running = await names('master3')
  t.ok(running.some((n) => /^k8s_etcd_etcd-master3_kube-system_[0-9a-f]{32}_0 running$/.test(n)), running.join('\n'))
  t.ok(running.some((n) => /^k8s_kube-apiserver_kube-apiserver-master3_kube-system_[0-9a-f]{32}_0 running$/.test(n)))
  const members = JSON.parse(await etcdctl('master1', 'member list -w json')) as { members: Array<{ name: string }> }
  t.same(members.members.map((m) => m.name).sort(), ['master1', 'master2', 'master3'], 'etcd members are named after the nodes')
})

t.test('dr status and dr backup now --verify on the kubeadm flavor', async (t) => {
  await etcdctl('master1', 'put /registry/e2e-kubeadm/k1 v1')
  const s = await lab.dr(['status', '--json'])
  t.equal(s.code, 0, s.stderr)
  const st = s.json()
  t.equal(st.verdict.hasQuorum, true)
  t.same(st.members.map((m: { host: string; quorumRead: boolean }) => [m.host, m.quorumRead]), [['master1', true], ['master2', true], ['master3', true]])
  t.same(st.memberList.map((m: { name: string }) => m.name).sort(), ['master1', 'master2', 'master3'])
  const b = await lab.dr(['backup', 'now', '--verify', '--json'], { timeoutMs: 300_000 })
  t.equal(b.code, 0, b.stderr)
  const out = b.json()
  t.equal(out.verify.ok, true, 'verified by a throwaway restore')
  const v = await lab.dr(['backup', 'verify', out.id, '--json'], { timeoutMs: 300_000 })
  t.equal(v.code, 0, v.stderr)
})

t.test('the static-pod component: edit a flag, stop, start — through the manifest over SSH', async (t) => {
  const inv = await loadInventory(lab.inventory)
  const conns = new Connections(inv)
  t.teardown(() => conns.close())
  const etcd = componentOf(inv, await conns.get('master3'), 'etcd')
  t.equal(etcd.kind, 'static-pod')
  const before = await etcd.state()
  t.ok(before?.running, 'running')
  t.ok(before?.argv.includes('--snapshot-count=10000'))

  const plan = await etcd.describe({ setArgs: { '--snapshot-count': '20000' } })
  t.match(plan.detail, /^- .*--snapshot-count=10000$/m, 'the plan shows the manifest diff')
  t.match(plan.detail, /^\+ .*--snapshot-count=20000$/m)
  t.match(await lab.sh('master3', 'cat /etc/kubernetes/manifests/etcd.yaml'), /--snapshot-count=10000/, 'describe changes nothing')

  const r = await etcd.reconfigure({ setArgs: { '--snapshot-count': '20000' } }, { keepRunningCheckMs: 2000 })
  t.match(r.kept, /^\/etc\/kubernetes\/dr\/backup\/etcd\.yaml\.old-/)
  t.match(await lab.sh('master3', `cat ${r.kept}`), /--snapshot-count=10000/, 'old manifest kept outside the manifests dir')
  t.match(await lab.sh('master3', 'cat /etc/kubernetes/manifests/etcd.yaml'), /--snapshot-count=20000/)
  t.match(await lab.sh('master3', 'ls -A /etc/kubernetes/manifests'), /^etcd\.yaml\nkube-apiserver\.yaml\n$/, 'no temporary file in the watched dir')
  const args = await lab.sh('master3', `docker inspect -f '{{json .Args}}' "$(docker ps -q --filter label=io.kubernetes.container.name=etcd --filter status=running)"`)
  t.match(args, /--snapshot-count=20000/, 'the running container has the new flag')
  t.match(await etcdctl('master3', 'endpoint health'), /is healthy/)

  await etcd.stop()
  t.match(await lab.sh('master3', 'ls /etc/kubernetes/manifests'), /^kube-apiserver\.yaml\n$/, 'stop moves the manifest out')
  t.notOk((await names('master3')).some((n) => n.startsWith('k8s_etcd_') && n.endsWith(' running')), 'no etcd container running')
  const stopped = await etcd.state()
  t.ok(stopped?.stopped)
  t.notOk(stopped?.running)
  const started = await etcd.start()
  t.ok(started.running)
  t.match(await etcdctl('master3', 'endpoint health'), /is healthy/)
  t.match(await etcdctl('master3', 'get /registry/e2e-kubeadm/k1 --print-value-only'), /^v1$/m, 'data kept')
})

t.test('seed 002: an exited container holding the next name blocks the apiserver, logged as the kubelet does', async (t) => {
  const cur = (await names('master3')).find((n) => n.startsWith('k8s_kube-apiserver_') && n.endsWith(' running'))!.split(' ')[0]
  const next = cur.replace(/_(\d+)$/, (_, n) => `_${Number(n) + 1}`)
  const image = (await lab.sh('master3', `docker inspect -f '{{.Config.Image}}' ${cur}`)).trim()
  await lab.sh('master3', `docker create --name ${next} ${image} true >/dev/null && docker kill ${cur} >/dev/null`)
  let log = ''
  for (let i = 0; i < 40 && !/Conflict\. The container name/.test(log); i++) {
    await new Promise((r) => setTimeout(r, 500))
    log = await lab.sh('master3', 'docker logs --tail 30 kubelet 2>&1')
  }
  t.match(log, new RegExp(`CreateContainerError: "Error response from daemon: Conflict\\. The container name "/${next}" is already in use by container`))
  t.notOk((await names('master3')).some((n) => n.startsWith('k8s_kube-apiserver_') && n.endsWith(' running')), 'the apiserver does not run')
  await lab.sh('master3', `docker rm ${next} >/dev/null`)
  let ok = false
  for (let i = 0; i < 60 && !ok; i++) {
    await new Promise((r) => setTimeout(r, 1000))
    ok = (await names('master3')).some((n) => n === `${next} running`)
  }
  t.ok(ok, `${next} runs once the stale container is gone`)
})
