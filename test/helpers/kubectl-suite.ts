// Real kubectl against the lab's Kubernetes API (issue 10): Debian's kubernetes-client (kubectl 1.20, the version of
// seed 003's cluster) with the kubeconfig `dr lab up` writes, as an operator practising on the lab would use it.
// `get` prints the server's Tables (the usual columns), `describe`, `cordon`, `taint`, `drain` and `delete node`
// work, each checked from outside kubectl: the objects in etcd (etcdctl in the node). One suite, run on each lab
// flavor (test/e2e/kubectl.test.ts, test/e2e/kubectl-kubeadm.test.ts): one stand-in serves both.
import type { Test } from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import YAML from 'yaml'
import type { TestLab } from './lab.ts'
import { ROOT } from './dr.ts'

const run = promisify(execFile)
// scripts/lib/ensure.sh installs kubernetes-client, or unpacks it here where another package owns /usr/bin/kubectl.
const unpacked = path.join(ROOT, '.lab-cache/kubernetes-client/usr/bin/kubectl')
const KUBECTL = process.env.DR_KUBECTL ?? (fs.existsSync(unpacked) ? unpacked : 'kubectl')
const rows = (table: string) => table.trim().split('\n').map((l) => l.trim().split(/\s{2,}/))

/** The lab flavor, and the roles `kubectl get nodes` shows there for a controlplane node and a worker. */
export interface Flavor {
  flavor: 'rke' | 'kubeadm'
  master: string
  worker: string
}

const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`
const KUBEADM_ETCDCTL =
  'docker exec "$(docker ps -q --filter label=io.kubernetes.container.name=etcd --filter status=running | head -n1)" etcdctl ' +
  '--endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/server.crt --key=/etc/kubernetes/pki/etcd/server.key'

export function kubectlSuite(t: Test, lab: TestLab, roles: Flavor) {
  /** etcdctl in master1's etcd container, as an operator on the node would run it on this flavor. */
  const etcdctl = (args: string[]) =>
    roles.flavor === 'rke' ? lab.etcdctl('master1', args) : lab.sh('master1', `${KUBEADM_ETCDCTL} ${args.map(sq).join(' ')}`)
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-kubectl-home-')) // kubectl's discovery cache, not the user's
  let kubeconfig = ''

  async function kubectl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const r = await run(KUBECTL, ['--kubeconfig', kubeconfig, '--request-timeout=20s', ...args], { env: { ...process.env, HOME: home }, timeout: 120_000 })
      return { code: 0, ...r }
    } catch (e) {
      const err = e as { code?: number; stdout?: string; stderr?: string }
      return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? String(e) }
    }
  }
  const ok = async (t: Test, args: string[]) => {
    const r = await kubectl(args)
    t.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`)
    return r.stdout
  }
  /** A stored object as the stand-in keeps it in etcd (/registry/minions/NAME, /registry/pods/NS/NAME). */
  const stored = async (key: string) => {
    const out = await etcdctl(['get', key, '--print-value-only'])
    return out.trim() ? JSON.parse(out) : null
  }

  t.before(async () => {
    await lab.fresh()
    const inv = YAML.parse(fs.readFileSync(lab.inventory, 'utf8'))
    kubeconfig = path.resolve(path.dirname(lab.inventory), inv.kubernetes.kubeconfig)
  })
  t.teardown(async () => {
    fs.rmSync(home, { recursive: true, force: true })
    await lab.down()
  })

  t.test("it is Debian's kubectl 1.20, talking to the lab's API", async (t) => {
    t.match(await ok(t, ['version', '--client', '--short']), /Client Version: v1\.20\./)
    t.match(await ok(t, ['version', '--short']), /Server Version: v1\.20\.5/)
  })

  t.test('kubectl get nodes / get pods -A: the usual columns', async (t) => {
    const nodes = rows(await ok(t, ['get', 'nodes']))
    t.same(nodes[0], ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION'])
    const byName = new Map(nodes.slice(1).map((r) => [r[0], r]))
    t.same([...byName.keys()].sort(), ['master1', 'master2', 'master3', 'node1', 'node2'])
    t.match(byName.get('master1'), ['master1', 'Ready', roles.master, /^\d+(s|m)/, 'v1.20.5'])
    t.match(byName.get('node1'), ['node1', 'Ready', roles.worker, /^\d/, 'v1.20.5'])
    const wide = await ok(t, ['get', 'no', 'node1', '-o', 'wide'])
    t.match(wide, /INTERNAL-IP\s+EXTERNAL-IP\s+OS-IMAGE\s+KERNEL-VERSION\s+CONTAINER-RUNTIME/)
    t.match(wide, new RegExp(lab.address('node1').replace(/\./g, '\\.')), "node1's address")

    // The lab's kubelet stand-ins mark their pods Running within a few seconds of `lab up`.
    let pods = rows(await ok(t, ['get', 'pods', '-A']))
    for (let i = 0; i < 30 && pods.slice(1).some((r) => r[3] !== 'Running'); i++) {
      await new Promise((r) => setTimeout(r, 1000))
      pods = rows(await ok(t, ['get', 'pods', '-A']))
    }
    t.same(pods[0], ['NAMESPACE', 'NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE'])
    const hello = pods.slice(1).filter((r) => r[1].startsWith('hello-world-'))
    t.equal(hello.length, 5, 'one hello-world pod per node')
    for (const r of hello) t.match(r, ['default', /^hello-world-/, '1/1', 'Running', '0', /^\d/])
    t.match(await ok(t, ['get', 'po', '-n', 'default', '-o', 'wide', '-l', 'app=hello-world']), /NODE\s+NOMINATED NODE\s+READINESS GATES[\s\S]*node1/)
    const json = JSON.parse(await ok(t, ['get', 'nodes', '-o', 'json']))
    t.equal(json.kind, 'List', '-o json still gets the objects')
    t.equal(json.items[0].status.nodeInfo.kubeletVersion, 'v1.20.5')
  })

  t.test('kubectl describe node', async (t) => {
    const d = await ok(t, ['describe', 'node', 'node1'])
    t.match(d, /^Name:\s+node1$/m)
    t.match(d, new RegExp(`^Roles:\\s+${roles.worker}$`, 'm'))
    t.match(d, /^Taints:\s+<none>$/m)
    t.match(d, /Ready\s+True/)
    t.match(d, /hello-world-/, 'its pods are listed')
  })

  t.test('kubectl cordon, taint, drain, delete node — each checked in etcd', async (t) => {
    t.match(await ok(t, ['cordon', 'node1']), /node\/node1 cordoned/)
    t.equal((await stored('/registry/minions/node1')).spec.unschedulable, true, 'unschedulable in etcd')
    t.match(rows(await ok(t, ['get', 'nodes', 'node1']))[1], ['node1', 'Ready,SchedulingDisabled'])

    t.match(await ok(t, ['taint', 'nodes', 'node1', 'dr-lab/practice=yes:NoSchedule']), /node\/node1 tainted/)
    t.match((await stored('/registry/minions/node1')).spec.taints, [{ key: 'dr-lab/practice', value: 'yes', effect: 'NoSchedule' }])
    t.match(await ok(t, ['describe', 'node', 'node1']), /^Taints:\s+dr-lab\/practice=yes:NoSchedule$/m)
    t.match(await ok(t, ['taint', 'nodes', 'node1', 'dr-lab/practice:NoSchedule-']), /node\/node1 untainted/)
    t.notMatch(JSON.stringify((await stored('/registry/minions/node1')).spec.taints ?? []), /dr-lab\/practice/, 'the taint is gone again')

    // The lab's pods have no controller: drain needs --force, as on a real cluster.
    const refused = await kubectl(['drain', 'node1', '--ignore-daemonsets', '--timeout=60s'])
    t.not(refused.code, 0, 'drain refuses unmanaged pods without --force')
    t.match(refused.stderr, /--force/)
    const drained = await ok(t, ['drain', 'node1', '--ignore-daemonsets', '--delete-emptydir-data', '--force', '--timeout=90s'])
    // kubectl 1.20 names the node with its printer's last operation ("deleted", after deleting pods), not "drained".
    t.match(drained, /^pod\/hello-world-\S+ deleted$/m)
    t.match(drained, /^node\/node1 (drained|deleted)$/m)
    t.match((await stored('/registry/minions/node1'))?.spec, { unschedulable: true }, 'node1 is still there, cordoned')
    const left = JSON.parse(await ok(t, ['get', 'pods', '-A', '--field-selector', 'spec.nodeName=node1', '-o', 'json'])).items
    t.same(left, [], 'no pod left on node1')
    const keys = (await etcdctl(['get', '--prefix', '/registry/pods/', '--print-value-only'])).split('\n').filter(Boolean)
    t.notOk(keys.some((v) => JSON.parse(v).spec?.nodeName === 'node1'), 'no pod of node1 in etcd')

    // A node is deleted once it is gone for good: its kubelet stopped first (a live kubelet registers it again).
    await lab.sh('node1', 'docker stop kubelet >/dev/null')
    t.match(await ok(t, ['delete', 'node', 'node1']), /node "node1" deleted/)
    t.equal(await stored('/registry/minions/node1'), null, 'gone from etcd')
    const after = await kubectl(['get', 'node', 'node1'])
    t.not(after.code, 0)
    t.match(after.stderr, /NotFound|not found/)
  })
}
