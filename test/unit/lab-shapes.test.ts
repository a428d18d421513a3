// The lab's RKE shapes and generated files, as pure data: etcd's docker run line, the apiserver's entrypoint,
// certificates' SANs and which node gets which file, the inventory and the kubeconfig.
import t from 'tap'
import YAML from 'yaml'
import { certSpecs, extFile, filesForNode } from '../../src/lab/certs.ts'
import { apiserverBody, etcdRunArgs, initialCluster, kubeletApiservers, kubeletBody } from '../../src/lab/controlplane.ts'
import { knownHostsLine, offsiteNode, renderInventory, renderKubeconfig } from '../../src/lab/inventory-writer.ts'
import { nodeRunArgs } from '../../src/lab/nodes.ts'
import { parseSites, planLab, subnetFor } from '../../src/lab/topology.ts'

const plan = planLab({ name: 'lab', sites: parseSites('A=2,B=1'), workers: 1, subnet: subnetFor('lab') })
const node = (n: string) => plan.nodes.find((x) => x.name === n)!

t.test('etcd is run the way RKE runs it (seed 003)', async (t) => {
  const args = etcdRunArgs(plan, node('master3'), 'img:1')
  const image = args.indexOf('img:1')
  t.same(args.slice(image + 1, image + 2), ['/usr/local/bin/etcd'], 'command = the binary, then its flags')
  const flags = args.slice(image + 2)
  for (const f of [
    '--initial-advertise-peer-urls=https://172.30.0.14:2380',
    '--advertise-client-urls=https://172.30.0.14:2379',
    '--initial-cluster=etcd-master1=https://172.30.0.11:2380,etcd-master2=https://172.30.0.12:2380,etcd-master3=https://172.30.0.14:2380',
    '--initial-cluster-token=etcd-cluster-1', '--election-timeout=5000', '--heartbeat-interval=500',
    '--data-dir=/var/lib/rancher/etcd/', '--client-cert-auth=true', '--peer-client-cert-auth=true', '--name=etcd-master3',
    '--cert-file=/etc/kubernetes/ssl/kube-etcd-172-30-0-14.pem', '--key-file=/etc/kubernetes/ssl/kube-etcd-172-30-0-14-key.pem',
    '--trusted-ca-file=/etc/kubernetes/ssl/kube-ca.pem',
  ]) t.ok(flags.includes(f), f)
  const opts = args.slice(0, image)
  for (const o of ['--name=etcd', '--network=host', '--restart=always', '--label=io.rancher.rke.container.name=etcd',
    '--env=ETCDCTL_API=3', '--env=ETCDCTL_ENDPOINTS=https://127.0.0.1:2379', '--env=ETCDCTL_CERT=/etc/kubernetes/ssl/kube-etcd-172-30-0-14.pem',
    '--volume=/var/lib/etcd:/var/lib/rancher/etcd/:z', '--volume=/etc/kubernetes:/etc/kubernetes:z']) t.ok(opts.includes(o), o)
  t.equal(initialCluster(plan).split(',').length, 3)
})

t.test('kube-apiserver: the whole command in the entrypoint, no cmd', async (t) => {
  const body = apiserverBody(plan, node('master1'), 'hk:1')
  t.equal(body.Cmd, null)
  t.same(body.Entrypoint.slice(0, 2), ['/opt/rke-tools/entrypoint.sh', 'kube-apiserver'])
  t.ok(body.Entrypoint.includes('--etcd-servers=https://172.30.0.11:2379,https://172.30.0.12:2379,https://172.30.0.14:2379'))
  t.ok(body.Entrypoint.includes('--etcd-certfile=/etc/kubernetes/ssl/kube-node.pem'))
  t.equal(body.HostConfig.NetworkMode, 'host')
  t.equal(body.Labels['io.rancher.rke.container.name'], 'kube-apiserver')
  const kubelet = kubeletBody(plan, node('node2'), 'hk:1')
  t.ok(kubelet.Entrypoint.includes('--node-labels=node-role.kubernetes.io/worker=true'))
  t.same(kubeletApiservers(plan, node('master3')), ['https://172.30.0.14:6443', 'https://172.30.0.11:6443', 'https://172.30.0.12:6443'], 'own apiserver first')
  t.same(kubeletApiservers(plan, node('node2')), ['https://172.30.0.11:6443', 'https://172.30.0.12:6443', 'https://172.30.0.14:6443'], 'workers: every controlplane in order')
})

t.test('node containers: unconfined for docker-in-docker, labelled', async (t) => {
  const args = nodeRunArgs(plan, node('master3'), 'node:1', ['SYS_ADMIN', 'NET_ADMIN'])
  t.notOk(args.includes('--privileged'))
  t.same(args.filter((a, i) => args[i - 1] === '--cap-add'), ['SYS_ADMIN', 'NET_ADMIN'])
  for (const o of ['seccomp=unconfined', 'apparmor=unconfined', 'systempaths=unconfined', 'dr.lab=lab', 'dr.lab.site=B',
    'dr.lab.roles=etcd,controlplane', '--ip=172.30.0.14', '--hostname=master3', '--name=dr-lab-master3',
    '--volume=/sys/fs/cgroup:/sys/fs/cgroup:rw', '--mount=type=volume,src=dr-lab-master3-docker,dst=/var/lib/docker']) {
    t.ok(args.includes(o), o)
  }
  t.equal(args[args.length - 1], 'node:1')
})

t.test('certificates: SANs for tunnels, files per role', async (t) => {
  const specs = certSpecs(plan)
  const etcd3 = specs.find((s) => s.stem === 'kube-etcd-172-30-0-14')!
  t.same(etcd3.ips, ['172.30.0.14', '127.0.0.1'])
  t.same(etcd3.dns, ['localhost', 'master3'])
  t.match(extFile(etcd3), /extendedKeyUsage=serverAuth,clientAuth/)
  t.match(extFile(etcd3), /subjectAltName=IP:172.30.0.14,IP:127.0.0.1,DNS:localhost,DNS:master3/)
  const apiserver = specs.find((s) => s.stem === 'kube-apiserver')!
  t.ok(['172.30.0.11', '172.30.0.12', '172.30.0.14', '127.0.0.1'].every((ip) => apiserver.ips.includes(ip)))
  t.equal(specs.find((s) => s.stem === 'kube-admin')!.org, 'system:masters')
  t.notMatch(extFile(specs.find((s) => s.stem === 'kube-admin')!), /subjectAltName/)
  t.same(filesForNode(plan, node('node1')), ['kube-ca.pem', 'kube-node.pem', 'kube-node-key.pem'], 'workers get no etcd keys')
  const m3 = filesForNode(plan, node('master3'))
  t.ok(m3.includes('kube-etcd-172-30-0-11-key.pem') && m3.includes('kube-apiserver-key.pem'))
})

t.test('inventory: the team format, flavor rke, sites and hosts in lab order', async (t) => {
  const doc = YAML.parse(renderInventory(plan, 'age1example'))
  t.equal(doc.flavor, 'rke')
  t.equal(doc.cluster, 'lab')
  t.same(doc.ssh, { user: 'root', port: 22, identityFile: 'lab/id_ed25519', knownHosts: 'lab/known_hosts', acceptNewHostKeys: false, sudo: false, connectTimeoutMs: 5000, commandTimeoutMs: 120000, concurrency: 8 })
  t.match(doc.sites, { A: { hosts: ['master1', 'master2', 'node1'] }, B: { hosts: ['master3', 'node2'] } })
  t.match(doc.sites.A.fence.off.slice(2), ['lab', 'power', 'off', '{host}', '--name', 'lab'], 'the lab power switch is the fence agent')
  t.same(Object.keys(doc.hosts), ['master1', 'master2', 'node1', 'master3', 'node2'])
  t.same(doc.hosts.node2.roles, ['worker'])
  t.equal(doc.hosts.master3.address, '172.30.0.14')
  t.equal(doc.etcd.certFile, '/etc/kubernetes/ssl/kube-etcd-{ipDashes}.pem')
  t.same(doc.backup.stores.offsite, { type: 'sftp', host: 'node2', path: '/var/backups/dr' })
  t.equal(doc.backup.stores.local.type, 'dir')
  t.same(doc.backup.encryption, { recipients: ['age1example'], identityFile: 'lab/backup.age' })
  t.equal(doc.kubernetes.kubeconfig, 'lab/kube_config_cluster.yml')
  t.equal(offsiteNode(plan).name, 'node2')
  t.equal(knownHostsLine('172.30.0.11', 'ssh-ed25519 AAAAC3Nz root@master1\n'), '172.30.0.11 ssh-ed25519 AAAAC3Nz')
})

t.test('kubeconfig points at the first controlplane node with the admin certificate', async (t) => {
  const k = YAML.parse(renderKubeconfig(plan, { ca: 'CA', cert: 'CERT', key: 'KEY' }))
  t.equal(k.clusters[0].cluster.server, 'https://172.30.0.11:6443')
  t.equal(Buffer.from(k.users[0].user['client-key-data'], 'base64').toString(), 'KEY')
  t.equal(k['current-context'], 'lab')
})
