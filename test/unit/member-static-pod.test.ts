// A joining kubeadm member's manifest made from another member's (runbooks/member/template.ts manifestForHost):
// compared with the manifest kubeadm (the lab's etcdManifest, as `kubeadm init phase etcd local` writes it) makes
// for that host itself. Only --initial-cluster differs: the member steps set it from the live member list.
import t from 'tap'
import { manifestForHost } from '../../runbooks/member/template.ts'
import { manifestCerts } from '../../runbooks/member/add-steps.ts'
import { manifestArgv, parseManifest } from '../../src/component/manifest.ts'
import { etcdManifest } from '../../src/lab/flavor-kubeadm.ts'
import { planLab } from '../../src/lab/topology.ts'

const plan = planLab({ name: 'unit', sites: [{ name: 'A', masters: 3 }], workers: 0, subnet: '10.1.2.0/24' })
const node = (n: string) => plan.nodes.find((x) => x.name === n)!
const argvOf = (text: string) => manifestArgv(parseManifest(text, 'test', 'etcd'))
const withoutCluster = (a: string[]) => a.filter((x) => !x.startsWith('--initial-cluster='))

t.test("a member's manifest made into another host's is that host's own, but for --initial-cluster", async (t) => {
  const src = etcdManifest(plan, node('master1'), 'etcd:lab')
  const want = etcdManifest(plan, node('master3'), 'etcd:lab')
  const got = manifestForHost(src, { name: 'master1', address: node('master1').ip }, { name: 'master3', address: node('master3').ip })
  t.same(withoutCluster(argvOf(got)), withoutCluster(argvOf(want)))
  t.ok(argvOf(got).includes(`--name=master3`))
  t.ok(argvOf(got).includes(`--listen-peer-urls=https://${node('master3').ip}:2380`))
  t.notOk(got.includes(`${node('master1').ip}:`), "no trace of master1's address")
  // Everything else (annotations aside) is byte for byte the same document.
  t.equal(got.replace(/^\s*- --initial-cluster=.*\n/m, ''), want.replace(/^\s*- --initial-cluster=.*\n/m, ''))
})

t.test('a member named neither by its inventory name nor its address: the joining one gets its own name', async (t) => {
  const src = etcdManifest(plan, node('master1'), 'etcd:lab').replace('--name=master1', '--name=cp-a.example')
  const got = manifestForHost(src, { name: 'master1', address: node('master1').ip }, { name: 'master3', address: node('master3').ip })
  t.ok(argvOf(got).includes('--name=master3'))
  t.notOk(got.includes('cp-a.example'))
  const fqdn = manifestForHost(etcdManifest(plan, node('master1'), 'etcd:lab').replace('--name=master1', '--name=master1.example'), { name: 'master1', address: node('master1').ip }, { name: 'master3', address: node('master3').ip })
  t.ok(argvOf(fqdn).includes('--name=master3.example'), 'a domain kept')
})

t.test('the TLS files a member reads, from its flags', async (t) => {
  const argv = argvOf(etcdManifest(plan, node('master2'), 'etcd:lab'))
  t.same(manifestCerts(argv).sort(), [
    '/etc/kubernetes/pki/etcd/ca.crt', '/etc/kubernetes/pki/etcd/ca.crt', '/etc/kubernetes/pki/etcd/peer.crt',
    '/etc/kubernetes/pki/etcd/peer.key', '/etc/kubernetes/pki/etcd/server.crt', '/etc/kubernetes/pki/etcd/server.key',
  ])
  t.same(manifestCerts(['etcd', '--name=x']), [])
})

t.test("kubeadm's ClusterStatus made to list exactly the control-plane members, by address", async (t) => {
  const { clusterStatusWith } = await import('../../src/component/kubeadm-config.ts')
  const text = [
    '# kept by kubeadm join',
    'apiEndpoints:',
    '  master1:',
    '    advertiseAddress: 10.1.2.10',
    '    bindPort: 6443',
    '  cp-b.example:',
    '    advertiseAddress: 10.1.2.11',
    '    bindPort: 6443',
    '  master3:',
    '    advertiseAddress: 10.1.2.12',
    '    bindPort: 6443',
    'apiVersion: kubeadm.k8s.io/v1beta2',
    'kind: ClusterStatus',
    '',
  ].join('\n')
  const data = { ClusterStatus: text, ClusterConfiguration: 'x: 1\n' }
  const ep = (a: string) => ({ advertiseAddress: a, bindPort: 6443 })
  const removed = clusterStatusWith(data, { master1: ep('10.1.2.10'), master2: ep('10.1.2.11') })!
  t.same(removed.removed, ['master3'])
  t.same(removed.added, [], 'master2 is listed under its node name: kept, not added twice')
  t.equal(removed.data.ClusterStatus, text.replace('  master3:\n    advertiseAddress: 10.1.2.12\n    bindPort: 6443\n', ''), 'only that entry goes; comment and order kept')
  t.equal(removed.data.ClusterConfiguration, 'x: 1\n')
  const back = clusterStatusWith(removed.data, { master1: ep('10.1.2.10'), master2: ep('10.1.2.11'), master3: ep('10.1.2.12') })!
  t.same(back.added, ['master3'])
  t.equal(back.data.ClusterStatus.replace(/\n  master3:[^]*?bindPort: 6443\n/, '\n'), text.replace(/\n  master3:[^]*?bindPort: 6443\n/, '\n'))
  t.match(back.data.ClusterStatus, /^ {2}master3:\n {4}advertiseAddress: 10\.1\.2\.12\n {4}bindPort: 6443$/m)
  const same = clusterStatusWith(back.data, { master1: ep('10.1.2.10'), master2: ep('10.1.2.11'), master3: ep('10.1.2.12') })!
  t.same([same.removed, same.added], [[], []], 'nothing to change')
  t.equal(same.data, back.data)
  t.equal(clusterStatusWith({ ClusterConfiguration: 'x' }, {}), undefined, 'kubeadm ≥ 1.22: no ClusterStatus, nothing to keep')
})
