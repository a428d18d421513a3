// kubeadm's own record of its control plane: the `kubeadm-config` ConfigMap in kube-system. Up to kubeadm 1.21 its
// `ClusterStatus` key lists every control-plane node's API endpoint; `kubeadm join --control-plane` and `kubeadm
// reset` read it, so after a failover, a member add or removal it must list exactly the nodes that are members.
// Pure: ConfigMap data in, ConfigMap data out (runbooks/steps/kubeadm-config.ts reads and writes the object).
import YAML from 'yaml'

export interface ApiEndpoint {
  advertiseAddress: string
  bindPort: number
}

/** The nodes ClusterStatus lists, with their endpoints; undefined when the ConfigMap has no ClusterStatus (≥ 1.22). */
export function clusterStatusEndpoints(data: Record<string, string> | undefined): Record<string, ApiEndpoint> | undefined {
  const text = data?.ClusterStatus
  if (!text) return undefined
  const doc = YAML.parse(text) as { apiEndpoints?: Record<string, ApiEndpoint> } | null
  return doc?.apiEndpoints ?? {}
}

export interface ClusterStatusDiff {
  data: Record<string, string>
  removed: string[]
  added: string[]
}

/**
 * ClusterStatus listing exactly `want` (node name → endpoint), matched by advertise address so that a node listed
 * under another name is kept. Endpoints at the addresses in `leave` (control-plane hosts that run no etcd member, so
 * membership says nothing about them) stay as they are: neither removed nor added. Comments and order of the
 * embedded document are kept. Pure; undefined when there is no ClusterStatus to keep.
 */
export function clusterStatusWith(data: Record<string, string>, want: Record<string, ApiEndpoint>, leave: string[] = []): ClusterStatusDiff | undefined {
  const text = data.ClusterStatus
  if (!text) return undefined
  const doc = YAML.parseDocument(text)
  let map = doc.get('apiEndpoints')
  if (!YAML.isMap(map)) {
    map = doc.createNode({})
    doc.set('apiEndpoints', map)
  }
  const endpoints = map as YAML.YAMLMap
  const wantAddresses = Object.values(want).map((e) => e.advertiseAddress)
  const listed = endpoints.items.map((p) => ({ key: String(YAML.isScalar(p.key) ? p.key.value : p.key), address: String((YAML.isMap(p.value) ? p.value.get('advertiseAddress') : '') ?? '') }))
  const removed = listed.filter((l) => !wantAddresses.includes(l.address) && !leave.includes(l.address)).map((l) => l.key)
  for (const k of removed) endpoints.delete(k)
  const added: string[] = []
  for (const [name, e] of Object.entries(want)) {
    if (listed.some((l) => l.address === e.advertiseAddress)) continue
    endpoints.set(name, doc.createNode({ advertiseAddress: e.advertiseAddress, bindPort: e.bindPort }))
    added.push(name)
  }
  if (!removed.length && !added.length) return { data, removed, added }
  return { data: { ...data, ClusterStatus: doc.toString({ lineWidth: 0, indentSeq: false }) }, removed, added }
}
