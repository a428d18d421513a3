// kubeadm's own record of its control plane kept in step with the etcd member list (failover, member, failback): the `kubeadm-config`
// ConfigMap's ClusterStatus (kubeadm ≤ 1.21) lists each control-plane node's API endpoint, and `kubeadm join
// --control-plane` and `kubeadm upgrade` read it — a node listed whose etcd member is gone makes them fail. After a
// member leaves or joins, ClusterStatus lists exactly the control-plane hosts whose etcd is a member. A cluster
// without that ConfigMap or without ClusterStatus (kubeadm ≥ 1.22, or a Kubernetes that has no ConfigMaps at all)
// has nothing to keep: the step says so and changes nothing. RKE has no such record.
import { DrError } from '../../src/core/error.ts'
import { connectKube } from '../../src/kube/client.ts'
import { hostsWithRole, type Inventory } from '../../src/inventory/types.ts'
import { readMembership } from '../../src/etcd/membership.ts'
import type { Step, StepContext } from '../../src/runbook/types.ts'
import { clusterStatusWith, type ApiEndpoint } from '../../src/component/kubeadm-config.ts'
import { skippingKubernetes } from './kube.ts'

const NAME = 'kubeadm-config'
const NAMESPACE = 'kube-system'

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
      if (skippingKubernetes(ctx)) return []
      // In a plan where earlier steps change the members (or rebuild etcd, when the apiserver has no quorum to answer
      // with), what it reads now is not what this step will find: say what it will do. The apply checks for real.
      if (ctx.planning && ctx.willChange?.size) return [{ host: via, summary: `once the members are final: make ${NAMESPACE}/${NAME} ClusterStatus list exactly the control-plane hosts that are etcd members, where kubeadm keeps one` }]
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
