// The kind flavor's shapes (pure): a node's `docker run` (containerd's state on the node's volume, the kind init
// as its command, no dockerd), the stand-in's flags (the kubeadm flavor's plus containerd as the runtime), and the
// inventory (flavor kind, docker-exec hosts on their containers, no ssh section, no SFTP store).
import t from 'tap'
import YAML from 'yaml'
import { KIND_NODE_INIT, kindKubeletArgs, kindRunArgs } from '../../src/lab/flavor-kind.ts'
import { renderInventory } from '../../src/lab/inventory-writer.ts'
import { planLab } from '../../src/lab/topology.ts'

const plan = planLab({ name: 'k', flavor: 'kind', sites: [{ name: 'A', masters: 2 }, { name: 'B', masters: 1 }], workers: 1, subnet: '10.9.8.0/24' })
const node = (n: string) => plan.nodes.find((x) => x.name === n)!

t.test("a kind node's docker run: containerd's volume, the kind init, no dockerd", async (t) => {
  const args = kindRunArgs(plan, node('master3'), 'node:1', ['SYS_ADMIN'])
  t.ok(args.includes('--mount=type=volume,src=dr-lab-k-master3-docker,dst=/var/lib/containerd'), 'the volume holds containerd state')
  t.notOk(args.some((a) => a.includes('dst=/var/lib/docker')))
  const at = args.indexOf('node:1')
  t.same(args.slice(at), ['node:1', 'sh', '-c', KIND_NODE_INIT, 'dr-lab-kind-init'], 'the image, then the kind init as its command')
  t.match(KIND_NODE_INIT, /^containerd /m)
  t.notMatch(KIND_NODE_INIT, /dockerd|sshd/)
})

t.test("the stand-in's flags: kubeadm's, with containerd as the runtime", async (t) => {
  const a = kindKubeletArgs(plan, node('master1'), 'hyperkube:1')
  t.ok(a.includes('--hostname-override=master1'))
  t.ok(a.includes('--pod-manifest-path=/etc/kubernetes/manifests'))
  t.same(a.slice(-2), ['--container-runtime=remote', '--container-runtime-endpoint=unix:///run/containerd/containerd.sock'])
  t.ok(a.every((x) => x.startsWith('--')), 'flags only (the node runs node itself)')
})

t.test('the kind inventory: docker-exec hosts on their containers, no ssh, no SFTP store', async (t) => {
  const doc = YAML.parse(renderInventory(plan, 'age1example'))
  t.equal(doc.flavor, 'kind')
  t.equal(doc.ssh, undefined)
  t.same(Object.keys(doc.backup.stores), ['local'])
  t.same(doc.hosts.master1, { address: '10.9.8.11', transport: 'docker-exec', container: 'dr-lab-k-master1', roles: ['etcd', 'controlplane'], labels: { 'dr.lab/container': 'dr-lab-k-master1' } })
  t.equal(doc.etcd.certFile, '/etc/kubernetes/pki/etcd/healthcheck-client.crt', "kubeadm's etcd paths")
})
