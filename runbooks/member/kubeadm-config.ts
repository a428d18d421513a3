// kubeadm's own record of its control plane kept in step with the etcd member list: the `kubeadm-config`
// ConfigMap's ClusterStatus (kubeadm ≤ 1.21) lists each control-plane node's API endpoint, and `kubeadm join
// --control-plane` and `kubeadm upgrade` read it — a node listed whose etcd member is gone makes them fail. After a
// member leaves or joins, ClusterStatus lists exactly the control-plane hosts whose etcd is a member. A cluster
// without that ConfigMap or without ClusterStatus (kubeadm ≥ 1.22, or a Kubernetes that has no ConfigMaps at all)
// has nothing to keep: the step says so and changes nothing. RKE has no such record.
import YAML from 'yaml'
import { DrError } from '../../src/core/error.ts'
import { connectKube } from '../../src/kube/client.ts'
import { hostsWithRole, type Inventory } from '../../src/inventory/types.ts'
import { readMembership } from '../../src/etcd/membership.ts'
import type { Step, StepContext } from '../../src/runbook/types.ts'
import type { ApiEndpoint } from '../../src/component/kubeadm-config.ts'

const NAME = 'kubeadm-config'
const NAMESPACE = 'kube-system'

export interface ClusterStatusDiff {
  data: Record<string, string>
  removed: string[]
  added: string[]
}

/**
 * ClusterStatus listing exactly `want` (node name → endpoint), matched by advertise address so that a node listed
 * under another name is kept. Comments and order of the embedded document are kept. Pure; undefined when there is
 * no ClusterStatus to keep.
 */
export function clusterStatusWith(data: Record<string, string>, want: Record<string, ApiEndpoint>): ClusterStatusDiff | undefined {
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
  const removed = listed.filter((l) => !wantAddresses.includes(l.address)).map((l) => l.key)
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

/** The control-plane hosts whose etcd is a member now, with their API endpoints. */
async function wanted(ctx: StepContext<unknown>, candidates: string[]): Promise<Record<string, ApiEndpoint>> {
  const m = await readMembership(ctx.conns, ctx.inv, candidates)
  const out: Record<string, ApiEndpoint> = {}
  for (const h of hostsWithRole(ctx.inv, 'controlplane')) {
    if (m.members.some((x) => x.peerURLs.some((u) => new URL(u).hostname === h.address))) out[h.name] = { advertiseAddress: h.address, bindPort: ctx.inv.kubernetes.apiserverPort }
  }
  return out
}

const notFound = (e: unknown) => (e as { code?: number })?.code === 404

/** The ConfigMap's data, or undefined when the cluster has none (404). */
async function readConfig(ctx: StepContext<unknown>, via: string) {
  const k = await connectKube(ctx.conns, ctx.inv, via)
  try {
    return (await k.api.readNamespacedConfigMap({ name: NAME, namespace: NAMESPACE })).data ?? {}
  } catch (e) {
    // No kubeadm-config ConfigMap (or no ConfigMaps at all): nothing of kubeadm's to keep in step.
    if (notFound(e)) return undefined
    throw e
  } finally {
    await k.close()
  }
}

/** Only where etcd runs as kubeadm's static pods and dr has credentials for the Kubernetes API. */
export const keepsKubeadmConfig = (inv: Inventory) => inv.flavor !== 'rke' && !!inv.kubernetes.kubeconfig

export function kubeadmConfigStep<F>(via: string, candidates: string[]): Step<F> {
  let evidence = ''
  return {
    id: 'kubeadm-config-cluster-status',
    title: "Keep kubeadm's ClusterStatus (ConfigMap kube-system/kubeadm-config) in step with the etcd members",
    host: via,
    async check(ctx) {
      const c = ctx as StepContext<unknown>
      // At plan time the members may still change before this step runs; its re-check reads them again.
      const data = await readConfig(c, via)
      if (!data) return []
      const d = clusterStatusWith(data, await wanted(c, candidates))
      if (!d || (!d.removed.length && !d.added.length)) return []
      return [{ host: via, summary: `ClusterStatus: ${[...d.removed.map((n) => `remove ${n}`), ...d.added.map((n) => `add ${n}`)].join(', ')}` }]
    },
    async apply(ctx) {
      const c = ctx as StepContext<unknown>
      const k = await connectKube(ctx.conns, ctx.inv, via)
      try {
        const cm = await k.api.readNamespacedConfigMap({ name: NAME, namespace: NAMESPACE })
        const d = clusterStatusWith(cm.data ?? {}, await wanted(c, candidates))
        if (!d || (!d.removed.length && !d.added.length)) return
        // resourceVersion kept: a concurrent writer (kubeadm itself) makes this fail rather than be overwritten.
        await k.api.replaceNamespacedConfigMap({ name: NAME, namespace: NAMESPACE, body: { ...cm, data: d.data } })
        evidence = `ClusterStatus: ${[...d.removed.map((n) => `removed ${n}`), ...d.added.map((n) => `added ${n}`)].join(', ')}`
      } finally {
        await k.close()
      }
    },
    async verify(ctx) {
      const c = ctx as StepContext<unknown>
      const data = await readConfig(c, via)
      if (!data) return `no ${NAME} ConfigMap in ${NAMESPACE}: nothing of kubeadm's to keep`
      const d = clusterStatusWith(data, await wanted(c, candidates))
      if (!d) return `${NAME} has no ClusterStatus (kubeadm ≥ 1.22): nothing to keep`
      if (d.removed.length || d.added.length) {
        throw new DrError({ code: 'member.unverified', message: `kubeadm's ClusterStatus still differs from the etcd members (${[...d.removed, ...d.added].join(', ')})`, host: via, exit: 'unverified', hint: 'run again: the step resumes' })
      }
      return evidence || 'ClusterStatus lists exactly the control-plane members'
    },
  }
}
