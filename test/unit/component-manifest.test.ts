import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import YAML from 'yaml'
import { clusterStatusEndpoints, clusterStatusWith } from '../../src/component/kubeadm-config.ts'
import { editManifestFlags, hostPathOf, lineDiff, manifestArgv, manifestImage, parseManifest, renderManifest } from '../../src/component/manifest.ts'
import { componentKind } from '../../src/component/index.ts'
import type { Inventory } from '../../src/inventory/types.ts'

const dir = path.join(import.meta.dirname, '../fixtures/kubeadm-1.20')
const read = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8')

t.test("kubeadm's etcd manifest: command, image, data dir", async (t) => {
  const m = parseManifest(read('etcd.yaml'))
  const argv = manifestArgv(m)
  t.equal(argv[0], 'etcd')
  t.ok(argv.includes('--name=master2'))
  t.equal(manifestImage(m), 'k8s.gcr.io/etcd:3.4.13-0')
  t.equal(hostPathOf(m, '/var/lib/etcd'), '/var/lib/etcd')
  t.equal(hostPathOf(m, '/nowhere'), undefined)
})

t.test('a flag edit changes those lines only and keeps comments and order', async (t) => {
  const text = read('etcd.yaml').replace('    - --name=master2\n', '    # the member name is the node name\n    - --name=master2\n')
  const m = parseManifest(text)
  const changed = editManifestFlags(m, {
    setArgs: { '--initial-cluster': 'master2=https://10.0.0.12:2380' },
    addArgs: ['--force-new-cluster'],
    removeArgs: ['--snapshot-count'],
  })
  t.ok(changed)
  const out = renderManifest(m)
  t.match(out, '# the member name is the node name\n    - --name=master2\n')
  const diff = lineDiff(text, out).split('\n').filter((l) => /^[-+] /.test(l))
  t.same(diff, [
    '-     - --initial-cluster=master1=https://10.0.0.11:2380,master2=https://10.0.0.12:2380',
    '+     - --initial-cluster=master2=https://10.0.0.12:2380',
    '-     - --snapshot-count=10000',
    '+     - --force-new-cluster',
  ])
  const back = YAML.parse(out)
  t.equal(back.spec.containers[0].command.at(-1), '--force-new-cluster')
  t.equal(back.spec.containers[0].image, 'k8s.gcr.io/etcd:3.4.13-0', 'everything else as it was')
  t.notOk(editManifestFlags(parseManifest(out), { setArgs: { '--initial-cluster': 'master2=https://10.0.0.12:2380' } }), 'a second run changes nothing')
})

t.test("kube-apiserver: --etcd-servers set, the executable never edited", async (t) => {
  const m = parseManifest(read('kube-apiserver.yaml'))
  editManifestFlags(m, { setArgs: { '--etcd-servers': 'https://10.0.0.12:2379' } })
  const argv = manifestArgv(m)
  t.equal(argv[0], 'kube-apiserver')
  t.ok(argv.includes('--etcd-servers=https://10.0.0.12:2379'))
  t.equal(argv.filter((a) => a.startsWith('--etcd-servers')).length, 1)
})

t.test('not a Pod, no container: a manifest.invalid error', async (t) => {
  t.throws(() => parseManifest('kind: Deployment\n'), { code: 'manifest.invalid' })
  t.throws(() => parseManifest('kind: Pod\nspec: {}\n'), { code: 'manifest.invalid' })
  t.throws(() => parseManifest(read('etcd.yaml'), 'x', 'kube-apiserver'), { code: 'manifest.invalid' })
})

t.test("kubeadm-config's ClusterStatus after a failover lists the surviving control-plane node only", async (t) => {
  const cm = YAML.parse(read('kubeadm-config.yaml')) as { data: Record<string, string> }
  t.same(Object.keys(clusterStatusEndpoints(cm.data)!), ['master1', 'master2', 'master3'])
  const survivor = { master3: { advertiseAddress: '10.0.0.13', bindPort: 6443 } }
  const r = clusterStatusWith(cm.data, survivor)!
  t.same(r.removed, ['master1', 'master2'])
  t.same(r.added, [])
  t.same(clusterStatusEndpoints(r.data), survivor)
  t.equal(r.data.ClusterConfiguration, cm.data.ClusterConfiguration, 'ClusterConfiguration untouched')
  t.match(r.data.ClusterStatus, /kind: ClusterStatus/)
  const again = clusterStatusWith(r.data, survivor)!
  t.same([again.removed, again.added], [[], []])
  t.equal(again.data, r.data)
  t.equal(clusterStatusEndpoints({ ClusterConfiguration: 'x' }), undefined, 'kubeadm ≥ 1.22 has no ClusterStatus')
  t.equal(clusterStatusWith({ ClusterConfiguration: 'x' }, survivor), undefined)
})

t.test('a node listed under another name is matched by its advertise address', async (t) => {
  const cm = YAML.parse(read('kubeadm-config.yaml')) as { data: Record<string, string> }
  const r = clusterStatusWith(cm.data, { 'm3.example': { advertiseAddress: '10.0.0.13', bindPort: 6443 } })!
  t.same(r.removed, ['master1', 'master2'])
  t.same(r.added, [], 'master3 is the same node: kept under its listed name, not added twice')
})

t.test('the component kind follows the flavor, a host label overrides it', async (t) => {
  const inv = (flavor: Inventory['flavor'], labels: Record<string, string> = {}) => ({ flavor, hosts: { m1: { labels } } }) as unknown as Inventory
  t.equal(componentKind(inv('rke'), 'm1'), 'container')
  t.equal(componentKind(inv('kubeadm'), 'm1'), 'static-pod')
  t.equal(componentKind(inv('kind'), 'm1'), 'static-pod')
  t.equal(componentKind(inv('kubeadm', { 'dr.component-kind': 'container' }), 'm1'), 'container')
})

t.test('a control-plane host without an etcd member (external etcd) is left as ClusterStatus lists it', async (t) => {
  const cm = YAML.parse(read('kubeadm-config.yaml')) as { data: Record<string, string> }
  // master2 (10.0.0.12) runs no etcd member: its listing is not the member list's to judge.
  const r = clusterStatusWith(cm.data, { master3: { advertiseAddress: '10.0.0.13', bindPort: 6443 } }, ['10.0.0.12'])!
  t.same(r.removed, ['master1'])
  t.same(Object.keys(clusterStatusEndpoints(r.data)!), ['master2', 'master3'])
  const unlisted = clusterStatusWith(r.data, { master3: { advertiseAddress: '10.0.0.13', bindPort: 6443 } }, ['10.0.0.14'])!
  t.same([unlisted.removed, unlisted.added], [['master2'], []], 'nor added when not listed; other hosts judged as before')
})
