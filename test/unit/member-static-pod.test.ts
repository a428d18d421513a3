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

t.test('the TLS files a member reads, from its flags', async (t) => {
  const argv = argvOf(etcdManifest(plan, node('master2'), 'etcd:lab'))
  t.same(manifestCerts(argv).sort(), [
    '/etc/kubernetes/pki/etcd/ca.crt', '/etc/kubernetes/pki/etcd/ca.crt', '/etc/kubernetes/pki/etcd/peer.crt',
    '/etc/kubernetes/pki/etcd/peer.key', '/etc/kubernetes/pki/etcd/server.crt', '/etc/kubernetes/pki/etcd/server.key',
  ])
  t.same(manifestCerts(['etcd', '--name=x']), [])
})
