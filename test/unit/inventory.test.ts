// Good inventories: defaults per flavor, merged ssh settings, absolute paths, warnings and the site-loss table.
import t from 'tap'
import path from 'node:path'
import os from 'node:os'
import { loadInventory, readInventoryFile, checkInventoryText } from '../../src/inventory/load.ts'
import { hostPath } from '../../src/inventory/types.ts'
import { siteLossTable } from '../../src/inventory/site-loss.ts'
import { summarise, renderSummary } from '../../src/inventory/summary.ts'
import { formatPath, closest } from '../../src/inventory/problems.ts'

const root = path.resolve(import.meta.dirname, '../..')
const good = path.join(root, 'test/fixtures/inventory/good')
const examples = path.join(root, 'inventories/examples')

t.test('seed 003 example: RKE defaults, sites, roles, the site-loss warning', async (t) => {
  const warnings: string[] = []
  const inv = await loadInventory(path.join(examples, 'rke-two-sites.yaml'), { warn: (w) => warnings.push(w) })
  t.equal(inv.cluster, 'seed003')
  t.equal(inv.flavor, 'rke')
  t.same(inv.sites.A.hosts, ['master1', 'master2', 'node1'])
  t.equal(inv.hosts.master3.site, 'B')
  t.equal(inv.hosts.master3.address, '192.168.31.103')
  t.same(inv.hosts.master3.roles, ['etcd', 'controlplane', 'worker'])
  t.equal(inv.etcd.caFile, '/etc/kubernetes/ssl/kube-ca.pem')
  t.equal(hostPath(inv.etcd.certFile, inv.hosts.master3), '/etc/kubernetes/ssl/kube-etcd-192-168-31-103.pem', 'the path etcd uses in the seed')
  t.equal(hostPath(inv.etcd.keyFile, inv.hosts.master3), '/etc/kubernetes/ssl/kube-etcd-192-168-31-103-key.pem')
  t.equal(inv.etcd.dataDir, '/var/lib/etcd')
  t.equal(inv.etcd.container, 'etcd')
  t.equal(inv.kubernetes.apiserverContainer, 'kube-apiserver')
  t.equal(inv.hosts.node2.ssh.user, 'decent')
  t.equal(inv.hosts.node2.ssh.sudo, true)
  t.equal(inv.ssh.identityFile, path.join(os.homedir(), '.ssh/id_ed25519'), '~ is the home directory')
  t.equal(inv.ssh.knownHosts, path.join(examples, 'seed003/known_hosts'), 'relative to the inventory file')
  t.equal(inv.stateDir, path.join(examples, '.dr', 'seed003'), 'stateDir defaults to .dr/<cluster> beside the inventory')
  t.equal(inv.backup.defaultStore, 'offsite')
  t.same(inv.backup.stores.offsite, { name: 'offsite', type: 'sftp', host: 'node2', path: '/var/backups/dr' })
  t.equal(warnings.length, 1)
  t.match(warnings[0], /rke-two-sites\.yaml:18:3: sites\.A: site A holds 2 of 3 etcd members/)
  t.match(warnings[0], /dr failover --site B/)
})

t.test('every field: overrides, merges, path resolution, store defaults', async (t) => {
  const inv = await loadInventory(path.join(good, 'full.yaml'))
  t.match(inv.ssh, { user: 'admin', port: 2200, sudo: true, passphraseEnv: 'MY_PASS', connectTimeoutMs: 3000, commandTimeoutMs: 60000, concurrency: 4, jumpHost: 'bastion' })
  t.equal(inv.ssh.identityFile, path.join(good, 'keys/id_ed25519'))
  t.match(inv.hosts.bastion.ssh, { user: 'jump', sudo: false, port: 2200, jumpHost: undefined }, 'the inventory-wide jump host does not jump through itself')
  t.match(inv.hosts.m1.ssh, { user: 'admin', port: 2200, jumpHost: 'bastion', identityFile: path.join(good, 'keys/id_ed25519') })
  t.match(inv.hosts.w1.ssh, { port: 22, identityFile: '/abs/key', jumpHost: 'ops@198.51.100.2:2222', user: 'admin' })
  t.same(inv.hosts.m1.labels, { rack: 'r1', tier: '1' })
  t.same(inv.hosts.m3.hostKeys, ['SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s'])
  t.match(inv.hosts.kind1, { transport: 'docker-exec', container: 'kind-control-plane' })
  t.match(inv.hosts.here, { transport: 'local', address: '127.0.0.1' })
  t.match(inv.etcd, { clientPort: 12379, peerPort: 2380, caFile: '/etc/kubernetes/ssl/kube-ca.pem' })
  t.equal(hostPath(inv.etcd.certFile, inv.hosts.m1), '/etc/etcd/m1-198.51.100.11.pem')
  t.match(inv.kubernetes, { kubeconfig: path.join(good, 'keys/kube_config_cluster.yml'), apiserverPort: 16443, kubeletContainer: 'kubelet' })
  t.same(inv.backup.stores.local, { name: 'local', type: 'dir', path: path.resolve(good, '../backups') })
  t.match(inv.backup.stores.s3, { type: 's3', bucket: 'etcd', prefix: 'lab/', forcePathStyle: true, accessKeyEnv: 'AK', region: 'us-east-1' })
  t.same(inv.backup.retention, { last: 3, daily: 2, weekly: 4, monthly: 6 }, 'retention fills the missing counts')
  t.equal(inv.backup.identityFile, path.join(good, 'keys/backup.age'))
  t.equal(inv.backup.recipients.length, 1)
  t.equal(inv.backup.metricsFile, path.resolve(good, '../metrics/dr_backup.prom'))
  t.equal(inv.stateDir, path.resolve(good, '../state/full'))
})

t.test('kind: kubeadm paths, docker-exec named after the node', async (t) => {
  const inv = await loadInventory(path.join(good, 'kind.yaml'))
  t.match(inv.hosts['kind-control-plane'], { transport: 'docker-exec', container: 'kind-control-plane' })
  t.match(inv.etcd, { caFile: '/etc/kubernetes/pki/etcd/ca.crt', certFile: '/etc/kubernetes/pki/etcd/healthcheck-client.crt', keyFile: '/etc/kubernetes/pki/etcd/healthcheck-client.key', dataDir: '/var/lib/etcd' })
  const kubeadm = await loadInventory(path.join(examples, 'kubeadm-three-sites.yaml'))
  t.equal(kubeadm.hosts.cp1.transport, 'ssh')
  t.equal(kubeadm.hosts.cp1.ssh.jumpHost, 'bastion')
  t.equal(kubeadm.hosts.bastion.ssh.jumpHost, undefined)
  t.equal(kubeadm.etcd.certFile, '/etc/kubernetes/pki/etcd/healthcheck-client.crt')
})

t.test('warnings: an even number of members, and sites whose loss loses quorum', async (t) => {
  const r = await readInventoryFile(path.join(good, 'even-members.yaml'))
  t.equal(r.errors.length, 0)
  t.ok(r.inventory)
  t.same(
    r.warnings.map((w) => `${w.line}:${w.col} ${formatPath(w.path)}`),
    ['4:3 sites.A', '5:3 sites.B', '6:1 hosts'],
  )
  t.match(r.warnings[2], { message: /4 etcd members: an even count tolerates 1 failed member, no more than 3 would/, hint: /odd number/ })
  const three = await readInventoryFile(path.join(examples, 'kubeadm-three-sites.yaml'))
  t.same(three.warnings, [], 'one member in each of three sites: no warning')
})

t.test('the "if this site is lost" table', async (t) => {
  t.same(siteLossTable({ A: 2, B: 1 }), [
    { site: 'A', membersInSite: 2, total: 3, left: 1, quorum: 2, quorumKept: false },
    { site: 'B', membersInSite: 1, total: 3, left: 2, quorum: 2, quorumKept: true },
  ])
  t.same(siteLossTable({ A: 2, B: 2, C: 1 }).map((r) => r.quorumKept), [true, true, true], '5 members over 3 sites survive any one site')
  t.same(siteLossTable({ A: 2, B: 2 }).map((r) => r.quorumKept), [false, false])
  const report = await readInventoryFile(path.join(examples, 'rke-two-sites.yaml'))
  const s = summarise(report, report.inventory!)
  t.equal(s.etcdMembers, 3)
  t.equal(s.quorum, 2)
  const text = renderSummary(s, root)
  t.match(text, 'inventories/examples/rke-two-sites.yaml: cluster seed003, flavor rke, 2 sites, 5 hosts')
  t.match(text, /If this site is lost:\nSITE\s+ETCD MEMBERS THERE\s+MEMBERS LEFT\s+QUORUM NEEDED\s+VERDICT/)
  t.match(text, /\nA\s+2\s+1\s+2\s+QUORUM LOST/)
  t.match(text, /\nB\s+1\s+2\s+2\s+quorum kept/)
  t.match(text, /master3\s+192\.168\.31\.103:22\s+etcd,controlplane,worker\s+ssh/)
})

t.test('pure checks on text; typo distance', async (t) => {
  const r = checkInventoryText('cluster: x\nflavor: rke\nsites: { A: { hosts: [a] } }\nhosts: { a: { address: 10.0.0.1, roles: [etcd] } }\n', '/tmp/x.yaml')
  t.equal(r.errors.length, 0)
  t.equal(r.inventory?.stateDir, '/tmp/.dr/x')
  t.equal(closest('ectd', ['etcd', 'controlplane', 'worker']), 'etcd')
  t.equal(closest('banana', ['etcd', 'controlplane', 'worker']), undefined)
})
