// The kubeadm lab flavor's kube-system/kubeadm-config (src/lab/flavor-kubeadm.ts kubeadmConfigData): shaped as
// kubeadm 1.20 writes it — compared key by key and line by line with a recorded one
// (test/fixtures/kubeadm-1.20/kubeadm-config.yaml) — and read back by dr's own ClusterStatus code.
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import YAML from 'yaml'
import { kubeadmConfigData } from '../../src/lab/flavor-kubeadm.ts'
import { planLab } from '../../src/lab/topology.ts'
import { clusterStatusEndpoints } from '../../src/component/kubeadm-config.ts'

const recorded = YAML.parse(fs.readFileSync(path.join(import.meta.dirname, '../fixtures/kubeadm-1.20/kubeadm-config.yaml'), 'utf8')).data as Record<string, string>
const plan = planLab({ name: 'unit', sites: [{ name: 'A', masters: 2 }, { name: 'B', masters: 1 }], workers: 1, subnet: '10.1.2.0/24' })
const masters = plan.nodes.filter((n) => n.roles.includes('controlplane'))

t.test('ClusterStatus lists every control-plane node as kubeadm 1.20 marshals it', async (t) => {
  const data = kubeadmConfigData(plan, masters)
  t.same(Object.keys(data).sort(), Object.keys(recorded).sort())
  // The recorded cluster's addresses are 10.0.0.11-13; the lab's are its own. Same text otherwise.
  const ours = data.ClusterStatus.replace(/advertiseAddress: \S+/g, 'advertiseAddress: A')
  t.equal(ours, recorded.ClusterStatus.replace(/advertiseAddress: \S+/g, 'advertiseAddress: A'))
  t.same(clusterStatusEndpoints(data), Object.fromEntries(masters.map((n) => [n.name, { advertiseAddress: n.ip, bindPort: 6443 }])))
  t.notOk('node1' in clusterStatusEndpoints(data)!, 'a worker is no API endpoint')
})

t.test("ClusterConfiguration: kubeadm's keys in kubeadm's order, this lab's values", async (t) => {
  const ours = YAML.parse(kubeadmConfigData(plan, masters).ClusterConfiguration)
  const theirs = YAML.parse(recorded.ClusterConfiguration)
  t.same(Object.keys(ours), Object.keys(theirs), 'the same top-level keys, sorted as sigs.k8s.io/yaml sorts them')
  t.match(ours, { apiVersion: 'kubeadm.k8s.io/v1beta2', kind: 'ClusterConfiguration', kubernetesVersion: 'v1.20.5', certificatesDir: '/etc/kubernetes/pki' })
  t.equal(ours.controlPlaneEndpoint, `${masters[0].ip}:6443`)
  t.same(ours.etcd.local.extraArgs, { 'election-timeout': '5000', 'heartbeat-interval': '500' }, "the lab's etcd flags beyond kubeadm's, as extraArgs (strings)")
  t.match(kubeadmConfigData(plan, masters).ClusterConfiguration, /^ {6}election-timeout: "5000"$/m)
})

t.test('kubeadm ≥ 1.22 keeps no ClusterStatus', async (t) => {
  const data = kubeadmConfigData(plan, masters, '1.22.0')
  t.same(Object.keys(data), ['ClusterConfiguration'])
  t.match(data.ClusterConfiguration, /^apiVersion: kubeadm\.k8s\.io\/v1beta3$/m)
})
