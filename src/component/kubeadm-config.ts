// kubeadm's own record of its control plane: the `kubeadm-config` ConfigMap in kube-system. Up to kubeadm 1.21 its
// `ClusterStatus` key lists every control-plane node's API endpoint; `kubeadm join --control-plane` and `kubeadm
// reset` read it, so after a failover it must hold only the nodes that are still members. Pure: ConfigMap data in,
// ConfigMap data out (the caller reads and writes the object with its Kubernetes client).
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

export interface ClusterStatusRewrite {
  /** The ConfigMap's new data; the same object when nothing changes. */
  data: Record<string, string>
  removed: string[]
  changed: boolean
}

/**
 * ClusterStatus with only the nodes in `keep` (the control-plane nodes whose etcd members survive). Comments and
 * key order of the embedded document are kept; a ConfigMap without ClusterStatus is left as it is.
 */
export function rewriteClusterStatus(data: Record<string, string>, keep: readonly string[]): ClusterStatusRewrite {
  const text = data.ClusterStatus
  if (!text) return { data, removed: [], changed: false }
  const doc = YAML.parseDocument(text)
  const endpoints = doc.get('apiEndpoints') as YAML.YAMLMap | undefined
  if (!endpoints || !YAML.isMap(endpoints)) return { data, removed: [], changed: false }
  const removed = endpoints.items.map((p) => String((p.key as YAML.Scalar).value ?? p.key)).filter((n) => !keep.includes(n))
  if (removed.length === 0) return { data, removed, changed: false }
  for (const n of removed) endpoints.delete(n)
  return { data: { ...data, ClusterStatus: doc.toString({ lineWidth: 0, indentSeq: false }) }, removed, changed: true }
}

/** The ClusterStatus entries to keep: every node but the lost ones (by node name, or by advertise address). */
export function survivingEndpoints(endpoints: Record<string, ApiEndpoint>, lost: ReadonlyArray<{ name: string; address: string }>): string[] {
  return Object.entries(endpoints)
    .filter(([node, ep]) => !lost.some((h) => h.name === node || h.address === ep.advertiseAddress))
    .map(([node]) => node)
}
