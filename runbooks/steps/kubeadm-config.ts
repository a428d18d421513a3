// kubeadm's own record after a failover: the `kubeadm-config` ConfigMap's ClusterStatus (kubeadm ≤ 1.21) lists
// every control-plane node's API endpoint, and `kubeadm join --control-plane` / `kubeadm reset` read it. The lost
// site's nodes are taken out so it agrees with the member list. A cluster without that ConfigMap, or without
// ClusterStatus (kubeadm ≥ 1.22), has nothing to keep consistent.
import type { V1ConfigMap } from '@kubernetes/client-node'
import { DrError } from '../../src/core/error.ts'
import { connectKube } from '../../src/kube/client.ts'
import { clusterStatusEndpoints, rewriteClusterStatus, survivingEndpoints } from '../../src/component/kubeadm-config.ts'
import type { Step, StepContext } from '../../src/runbook/types.ts'
import { skippingKubernetes } from './kube.ts'

const NAME = 'kubeadm-config'
const NAMESPACE = 'kube-system'

/** The ConfigMap, or undefined when the server has none (HTTP 404). */
async function readConfig(ctx: StepContext<unknown>, via: string): Promise<{ cm?: V1ConfigMap; close: () => Promise<void> | void; api: Awaited<ReturnType<typeof connectKube>>['api'] }> {
  const k = await connectKube(ctx.conns, ctx.inv, via)
  try {
    return { cm: await k.api.readNamespacedConfigMap({ name: NAME, namespace: NAMESPACE }), close: k.close, api: k.api }
  } catch (e) {
    // 404: no kubeadm-config here (not kubeadm, or a server without ConfigMaps): nothing to keep consistent.
    if ((e as { code?: number })?.code === 404) return { cm: undefined, close: k.close, api: k.api }
    await k.close()
    throw e
  }
}

const lostIn = (ctx: StepContext<unknown>, cm: V1ConfigMap | undefined, dead: string[]) => {
  const eps = clusterStatusEndpoints(cm?.data)
  if (!eps) return { keep: [], lost: [] }
  const keep = survivingEndpoints(eps, dead.map((h) => ({ name: h, address: ctx.inv.hosts[h].address })))
  return { keep, lost: Object.keys(eps).filter((n) => !keep.includes(n)) }
}

/** Take the lost hosts out of kubeadm-config's ClusterStatus, read and written through the apiserver on `via`. */
export function kubeadmConfigStep<F>(deadHosts: string[], via: string | undefined): Step<F>[] {
  if (!via) return []
  return [
    {
      id: 'kubeadm-config-cluster-status',
      title: "Take the lost site's nodes out of kubeadm's record (kubeadm-config ClusterStatus)",
      async check(ctx) {
        if (skippingKubernetes(ctx)) return []
        let r: Awaited<ReturnType<typeof readConfig>>
        try {
          r = await readConfig(ctx as StepContext<unknown>, via)
        } catch (e) {
          // Before etcd is rebuilt the apiserver cannot answer (no connection, or a 5xx): say what will be done once
          // it can. A refusal (401, 403, …) is an error.
          const code = (e as { code?: unknown })?.code
          if (!(e instanceof DrError) && typeof code === 'number' && code < 500) throw e
          return [{ host: via, summary: `once the apiserver on ${via} answers: remove ${deadHosts.join(', ')} from ${NAMESPACE}/${NAME} ClusterStatus, where listed` }]
        }
        try {
          const { lost } = lostIn(ctx as StepContext<unknown>, r.cm, deadHosts)
          return lost.length ? [{ host: via, summary: `remove ${lost.join(', ')} from ${NAMESPACE}/${NAME} ClusterStatus.apiEndpoints` }] : []
        } finally {
          await r.close()
        }
      },
      async apply(ctx) {
        const r = await readConfig(ctx as StepContext<unknown>, via)
        try {
          if (!r.cm?.data) return
          const { keep } = lostIn(ctx as StepContext<unknown>, r.cm, deadHosts)
          const next = rewriteClusterStatus(r.cm.data, keep)
          // resourceVersion kept: a concurrent change makes this fail (409) instead of being overwritten.
          if (next.changed) await r.api.replaceNamespacedConfigMap({ name: NAME, namespace: NAMESPACE, body: { ...r.cm, data: next.data } })
        } finally {
          await r.close()
        }
      },
      async verify(ctx) {
        const r = await readConfig(ctx as StepContext<unknown>, via)
        try {
          const { lost } = lostIn(ctx as StepContext<unknown>, r.cm, deadHosts)
          if (lost.length) throw new DrError({ code: 'failover.unverified', message: `${NAMESPACE}/${NAME} still lists ${lost.join(', ')} in ClusterStatus`, host: via, exit: 'unverified' })
          return r.cm ? `${NAMESPACE}/${NAME}: ClusterStatus lists no lost node` : `no ${NAMESPACE}/${NAME} ConfigMap: nothing to update`
        } finally {
          await r.close()
        }
      },
    },
  ]
}
