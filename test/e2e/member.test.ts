// dr member on a lab of three members in site A and two in B, end to end and checked from outside dr (etcdctl
// inside a node's etcd container, the apiserver containers' --etcd-servers): a removal that would break quorum is
// refused and changes nothing; remove; replace a dead host with a fresh one (its etcd container made from a
// member's template); add the dead host back after it returns, killed after every step and resumed.
import t from 'tap'
import { dr } from '../helpers/dr.ts'
import { TestLab } from '../helpers/lab.ts'

const lab = new TestLab('e2e-member')
const nodeSh = lab.sh.bind(lab)
const etcdctl = lab.etcdctl.bind(lab)
const members = async (via: string) =>
  (JSON.parse(await etcdctl(via, ['member', 'list', '-w', 'json'])).members as Array<{ name: string; peerURLs: string[]; isLearner?: boolean }>)
const names = async (via: string) => (await members(via)).map((m) => m.name).sort()
const etcdServers = async (node: string) => {
  const ep = JSON.parse(await nodeSh(node, "docker inspect -f '{{json .Config.Entrypoint}}' kube-apiserver")) as string[]
  return (ep.find((a) => a.startsWith('--etcd-servers='))?.slice('--etcd-servers='.length) ?? '').split(',').sort()
}
const urls = (...nodes: string[]) => nodes.map((n) => `https://${lab.address(n)}:2379`).sort()

t.before(async () => {
  await lab.down()
  // On a loaded, shared machine lab up can fail for reasons of its own (nodes registering late, the shared image
  // cache rebuilt by another checkout): try again, up to three times.
  for (let i = 1; ; i++) {
    const r = await dr(['lab', 'up', '--name', lab.name, '--sites', 'A=3,B=2', '--workers', '0'], { timeoutMs: 900_000 })
    if (r.code === 0) break
    if (i === 3) throw new Error(`lab up failed:\n${r.stderr.slice(-3000)}`)
    // Anything else (the shared image cache rebuilt under our feet) starts over.
    if (!/lab\.not-ready/.test(r.stderr)) await lab.down()
    await new Promise((res) => setTimeout(res, 30_000))
  }
  await etcdctl('master1', ['put', '/registry/e2e/before', 'yes'])
})
t.teardown(() => lab.down())

t.test('a removal that would break quorum is refused and changes nothing', async (t) => {
  // Two of five down: quorum holds (3 of 5), but removing a healthy member would leave 4 that need 3 healthy.
  for (const n of ['master2', 'master3']) await nodeSh(n, 'docker update --restart=no etcd >/dev/null && docker stop etcd >/dev/null')
  try {
    const r = await lab.dr(['member', 'remove', 'master4', '--yes'])
    t.equal(r.code, 3, 'exit 3: refused')
    t.match(r.stderr, /would break quorum: the 4 members left would need 3 healthy/)
    t.equal((await names('master1')).length, 5, 'still five members')
    t.match(await nodeSh('master4', "docker ps --format '{{.Names}}'"), /^etcd$/m, "master4's etcd still runs")
  } finally {
    for (const n of ['master2', 'master3']) await nodeSh(n, 'docker update --restart=always etcd >/dev/null && docker start etcd >/dev/null')
  }
})

t.test('remove: apiservers first, then the member, then its etcd is stopped and kept aside', async (t) => {
  const plan = await lab.dr(['member', 'remove', 'master5', '--plan', '--json'])
  t.equal(plan.code, 0, plan.stderr)
  t.equal((await names('master1')).length, 5, '--plan changes nothing')
  const ids = plan.json().steps.map((s: any) => s.id)
  t.ok(ids.indexOf('apiserver-etcd-servers-master1') < ids.indexOf('member-remove-master5'), 'apiservers stop naming it before it goes')

  const r = await lab.dr(['member', 'remove', 'master5', '--yes', '--json'])
  t.equal(r.code, 0, r.stderr.slice(-3000))
  t.same(await names('master1'), ['etcd-master1', 'etcd-master2', 'etcd-master3', 'etcd-master4'])
  for (const n of ['master1', 'master4', 'master5']) t.same(await etcdServers(n), urls('master1', 'master2', 'master3', 'master4'), `${n}'s apiserver`)
  t.match(await nodeSh('master5', "docker ps -a --format '{{.Names}} {{.State}}'"), /^etcd-removed-\S+ exited$/m, 'its etcd stopped and kept')
  t.match(await nodeSh('master5', 'ls -d /var/lib/etcd.dr-removed-*'), /dr-removed-/, 'its data kept aside')
})

t.test('replace a dead host with a fresh one (template from a member), and the Node moves', async (t) => {
  // master5 becomes a fresh host: no etcd container of its own at all.
  await nodeSh('master5', "docker ps -aq --filter name=etcd-removed- | xargs -r docker rm >/dev/null")
  const { execFile } = await import('node:child_process')
  await new Promise((res, rej) => execFile('docker', ['kill', lab.container('master1')], (e) => (e ? rej(e) : res(undefined))))
  const r = await lab.dr(['member', 'replace', 'master1', '--with', 'master5', '--yes', '--json'])
  t.equal(r.code, 0, r.stderr.slice(-3000))
  const report = r.json()
  t.match(report.steps.find((s: any) => s.id === 'member-container-master5').changes[0].summary, /create etcd from master\d's etcd/)
  const list = await members('master2')
  t.same(list.map((m) => m.name).sort(), ['etcd-master2', 'etcd-master3', 'etcd-master4', 'etcd-master5'])
  t.notOk(list.some((m) => m.isLearner), 'no learner left')
  for (const n of ['master2', 'master3', 'master4', 'master5']) t.same(await etcdServers(n), urls('master2', 'master3', 'master4', 'master5'), `${n}'s apiserver`)
  t.equal((await etcdctl('master5', ['get', '/registry/e2e/before', '--print-value-only'])).trim(), 'yes', 'the new member serves the data')
  t.match(await nodeSh('master5', "docker inspect -f '{{json .Args}}' etcd"), /kube-etcd-[0-9-]+\.pem/)
  t.ok((await nodeSh('master5', "docker inspect -f '{{json .Args}}' etcd")).includes(`--name=etcd-master5`), 'named for its host')
  t.match(report.steps.find((s: any) => s.id === 'node-move-master1').evidence, /Node master5 is registered/)
})

t.test('the dead host returns and is added back: killed after every step, it converges', async (t) => {
  const { execFile } = await import('node:child_process')
  await new Promise((res, rej) => execFile('docker', ['start', lab.container('master1')], (e) => (e ? rej(e) : res(undefined))))
  // Wait for the node's own docker: its etcd comes back with the old data, finds itself removed and exits.
  for (let i = 0; i < 60; i++) {
    if (await nodeSh('master1', 'docker ps >/dev/null && echo up').then((x) => x.includes('up'), () => false)) break
    await new Promise((r) => setTimeout(r, 1000))
  }
  for (const step of ['member-reset-master1', 'member-container-master1', 'member-add-learner-master1', 'member-start-master1', 'member-promote-master1']) {
    const r = await lab.dr(['member', 'add', 'master1', '--yes'], { env: { DR_TEST_CRASH_AFTER_STEP: step } })
    t.equal(r.signal, 'SIGKILL', `killed after ${step}`, { stderr: r.stderr.slice(-2000) })
  }
  const done = await lab.dr(['member', 'add', 'master1', '--yes', '--json'])
  t.equal(done.code, 0, done.stderr.slice(-3000))
  const list = await members('master2')
  t.same(list.map((m) => m.name).sort(), ['etcd-master1', 'etcd-master2', 'etcd-master3', 'etcd-master4', 'etcd-master5'])
  t.notOk(list.some((m) => m.isLearner), 'promoted')
  t.equal((await etcdctl('master1', ['get', '/registry/e2e/before', '--print-value-only'])).trim(), 'yes', 'master1 serves the data')
  t.match(await nodeSh('master1', 'ls -d /var/lib/etcd.dr-quarantined-*'), /dr-quarantined-/, 'its old data quarantined, not merged')
  for (const n of ['master1', 'master2', 'master5']) t.same(await etcdServers(n), urls('master1', 'master2', 'master3', 'master4', 'master5'), `${n}'s apiserver`)
  const again = await lab.dr(['member', 'add', 'master1', '--yes', '--json'])
  t.equal(again.code, 0, again.stderr.slice(-2000))
  t.equal(again.json().status, 'nothing-to-do', 'a second run has nothing to do')
})
