// dr check and doctor on the kubeadm flavor (static pods run by the lab's kubelet stand-in): a healthy lab checks
// all OK; `dr lab break stale-container` leaves an exited container holding the name the next kube-apiserver needs
// (seed 002) and the apiserver stays down; doctor names the cause with the kubelet's Conflict line and the
// containers' inspect fields; `doctor --fix --yes` removes those exited containers and nothing else, and the
// kubelet brings the apiserver back — checked from inside the node with docker and curl, not through dr.
import t from 'tap'
import { TestLab } from '../helpers/lab.ts'

const lab = new TestLab('e2e-trbl-kadm', ['--flavor', 'kubeadm'])
const dr = lab.dr.bind(lab)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

t.before(async () => {
  await lab.fresh()
  const b = await dr(['backup', 'now'], { timeoutMs: 300_000 })
  if (b.code !== 0) throw new Error(`dr backup now failed: ${b.stderr.slice(-2000)}`)
})
t.teardown(() => lab.down())

/** From the node itself: the apiserver's /readyz on its own port ('' when nothing answers). */
const readyzInNode = (node: string) => lab.sh(node, 'curl -sk --max-time 3 https://127.0.0.1:6443/readyz || echo "curl exit $?"')
const ps = async (node: string) =>
  (await lab.sh(node, "docker ps -a --no-trunc --format '{{.ID}} {{.Names}} {{.State}}'")).split('\n').filter(Boolean).map((l) => {
    const [id, name, state] = l.split(' ')
    return { id, name, state }
  })

t.test('a healthy kubeadm lab: dr check all is OK and doctor finds nothing', async (t) => {
  const r = await dr(['check', 'all', '--json'])
  const bad = r.json().results.filter((x: any) => x.status !== 'ok')
  t.same(bad, [], 'no WARN or FAIL')
  t.equal(r.code, 0, 'exit 0')
  const cats = new Set(r.json().results.map((x: any) => x.check))
  for (const c of ['ssh', 'docker-running', 'ports', 'container', 'etcd-health', 'etcd-alarms', 'cert-expiry', 'apiserver-ready', 'node-ready', 'etcd-servers', 'backup-age'])
    t.ok(cats.has(c), `checked ${c}`)
  const d = await dr(['doctor', '--json'])
  t.equal(d.code, 0, d.stderr.slice(-1500))
  t.equal(d.json().healthy, true)
})

t.test('stale-container: the kubelet cannot start the next apiserver; doctor names the holder and removes only the stale ones', async (t) => {
  // Left alone by the fix: an exited container of no static pod, and everything running.
  await lab.sh('master1', "docker run --name dr-e2e-unrelated-exited --entrypoint sh $(docker inspect --format '{{.Config.Image}}' kubelet) -c 'exit 3' || true")
  const before = await ps('master1')
  const etcd = before.find((c) => c.name.startsWith('k8s_etcd_') && c.state === 'running')
  t.ok(etcd, 'etcd runs')

  const b = await dr(['lab', 'break', 'stale-container', '--name', lab.name, '--json'], { timeoutMs: 300_000 })
  t.equal(b.code, 0, b.stderr.slice(-1500))
  const broke = b.json().result
  t.match(broke.wanted, /^k8s_kube-apiserver_kube-apiserver-master1_kube-system_[0-9a-f]{32}_1$/)

  // From outside dr: the name is held by an exited container, nothing runs the apiserver, nothing answers :6443,
  // and the kubelet logs docker's Conflict error.
  const broken = await ps('master1')
  t.same(broken.filter((c) => c.name === broke.wanted).map((c) => [c.id, c.state]), [[broke.holderId, 'exited']], 'an exited container holds the next name')
  t.notOk(broken.some((c) => c.name.startsWith('k8s_kube-apiserver_') && c.state === 'running'), 'no apiserver runs')
  t.match(await readyzInNode('master1'), /curl exit 7/, 'connection refused on :6443')
  t.match(await lab.sh('master1', 'docker logs --tail 50 kubelet 2>&1'), new RegExp(`CreateContainerError: .*Conflict\\. The container name "/${broke.wanted}" is already in use by container "${broke.holderId}"`))

  const d = await dr(['doctor', '--json'])
  t.equal(d.code, 5, 'exit 5')
  const found = d.json().diagnoses.filter((x: any) => x.id === 'stale-container')
  t.equal(found.length, 1, 'one stale-container diagnosis')
  const s = found[0]
  t.equal(s.subject, 'master1')
  const ev = s.evidence.join('\n')
  t.match(ev, /Conflict\. The container name .* is already in use/, "the kubelet's log line")
  t.match(ev, new RegExp(`docker inspect ${broke.holderId.slice(0, 12)}: Name=/${broke.wanted} State\\.Status=exited`), "the holder's inspect fields")
  t.match(ev, /symptom: apiserver-ready: \/readyz/, 'the symptom, tied to its cause')
  t.ok(s.data.ids.includes(broke.holderId), 'the holder is to be removed')
  const unrelated = broken.find((c) => c.name === 'dr-e2e-unrelated-exited')!
  t.notOk(s.data.ids.includes(unrelated.id), 'an unrelated exited container is not')
  t.notOk(s.data.ids.includes(etcd!.id))

  const plan = await dr(['doctor', '--fix', '--plan'])
  t.equal(plan.code, 0, plan.stderr.slice(-1500))
  t.match(plan.stdout, new RegExp(`docker rm ${broke.holderId}`), 'the plan shows the exact command')
  t.equal((await ps('master1')).length, broken.length, '--plan removed nothing')

  const fix = await dr(['doctor', '--fix', '--yes'], { timeoutMs: 300_000 })
  t.equal(fix.code, 0, fix.stderr.slice(-2000))
  const after = await ps('master1')
  t.notOk(after.some((c) => c.id === broke.holderId), 'the holder is gone')
  t.ok(after.some((c) => c.id === unrelated.id), 'the unrelated exited container is still there')
  t.ok(after.some((c) => c.id === etcd!.id && c.state === 'running'), 'etcd is the same container, running')

  // The kubelet retries after its back-off (10 s, 20 s, 40 s … from the first failure).
  let ready = ''
  for (let i = 0; i < 90 && ready !== 'ok'; i++) {
    ready = (await readyzInNode('master1')).trim()
    if (ready !== 'ok') await sleep(2000)
  }
  t.equal(ready, 'ok', '/readyz on master1 answers ok again (curl in the node)')
  t.ok((await ps('master1')).some((c) => c.name.startsWith('k8s_kube-apiserver_kube-apiserver-master1_') && c.state === 'running'), 'the kubelet started a new apiserver container')
  const again = await dr(['check', 'kubernetes', '--json'])
  t.same(again.json().results.filter((x: any) => x.status !== 'ok'), [], 'dr check kubernetes is all OK again')
  await lab.sh('master1', 'docker rm dr-e2e-unrelated-exited')
})
