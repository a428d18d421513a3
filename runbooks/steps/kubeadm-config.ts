// kubeadm's own record of its control plane kept in step with the etcd member list (failover, member, failback): the
// `kubeadm-config` ConfigMap's ClusterStatus (kubeadm ≤ 1.21) lists each control-plane node's API endpoint, and
// `kubeadm join --control-plane` and `kubeadm upgrade` read it — a node listed whose etcd member is gone makes them
// fail. After a member leaves or joins, ClusterStatus lists exactly the control-plane hosts whose etcd is a member,
// each under its Node's name, as kubeadm keys it (a control-plane host with no etcd of its own is left as listed). A cluster without that ConfigMap (not made by kubeadm) or without
// ClusterStatus (kubeadm ≥ 1.22) has nothing to keep: the step says so and changes nothing. RKE has no such record.
// Written like kubeadm's own MutateConfigMap: read, change, write back with the resourceVersion read; on a 409
// Conflict (somebody wrote in between) read and decide again.
import { DrError } from '../../src/core/error.ts'
import { connectKube, nodeForHost, type KubeConnection } from '../../src/kube/client.ts'
import { hostsWithRole, type Inventory } from '../../src/inventory/types.ts'
import { readMembership } from '../../src/etcd/membership.ts'
import type { Step, StepContext } from '../../src/runbook/types.ts'
import { clusterStatusWith, type ApiEndpoint, type ClusterStatusDiff } from '../../src/component/kubeadm-config.ts'
import type { V1ConfigMap } from '@kubernetes/client-node'
import { skippingKubernetes } from './kube.ts'

const NAME = 'kubeadm-config'
const NAMESPACE = 'kube-system'

/**
 * The control-plane hosts whose etcd is a member now, under their Node's name (the host's when it has none), and the
 * addresses of control-plane hosts that are no etcd hosts (external etcd): membership says nothing about those.
 */
async function wanted(ctx: StepContext<unknown>, k: KubeConnection, candidates: string[]) {
  const m = await readMembership(ctx.conns, ctx.inv, candidates)
  const nodes = (await k.api.listNode()).items
  const want: Record<string, ApiEndpoint> = {}
  const leave: string[] = []
  for (const h of hostsWithRole(ctx.inv, 'controlplane')) {
    if (!h.roles.includes('etcd')) leave.push(h.address)
    else if (m.members.some((x) => x.peerURLs.some((u) => new URL(u).hostname === h.address))) {
      want[nodeForHost(nodes, h.name, h.address)?.metadata?.name ?? h.name] = { advertiseAddress: h.address, bindPort: ctx.inv.kubernetes.apiserverPort }
    }
  }
  return { want, leave }
}

const apiCode = (e: unknown) => (e as { code?: number })?.code

/** The ConfigMap (undefined when the cluster has none: 404) and how its ClusterStatus differs from the members. */
async function compare(ctx: StepContext<unknown>, k: KubeConnection, candidates: string[]) {
  let cm: V1ConfigMap
  try {
    cm = await k.api.readNamespacedConfigMap({ name: NAME, namespace: NAMESPACE })
  } catch (e) {
    // No kubeadm-config ConfigMap: a cluster kubeadm did not make has nothing of kubeadm's to keep in step.
    if (apiCode(e) === 404) return undefined
    throw e
  }
  const { want, leave } = await wanted(ctx, k, candidates)
  return { cm, diff: clusterStatusWith(cm.data ?? {}, want, leave) }
}

async function withKube<T>(ctx: StepContext<unknown>, via: string, f: (k: KubeConnection) => Promise<T>): Promise<T> {
  const k = await connectKube(ctx.conns, ctx.inv, via)
  try {
    return await f(k)
  } finally {
    await k.close()
  }
}

const changes = (d: ClusterStatusDiff | undefined, done = false) =>
  d ? [...d.removed.map((n) => `${done ? 'removed' : 'remove'} ${n}`), ...d.added.map((n) => `${done ? 'added' : 'add'} ${n}`)] : []

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
      const found = await withKube(c, via, (k) => compare(c, k, candidates))
      const what = changes(found?.diff)
      return what.length ? [{ host: via, summary: `ClusterStatus: ${what.join(', ')}` }] : []
    },
    async apply(ctx) {
      const c = ctx as StepContext<unknown>
      await withKube(c, via, async (k) => {
        for (let attempt = 1; ; attempt++) {
          const found = await compare(c, k, candidates)
          const what = changes(found?.diff)
          if (!found || !what.length) return
          try {
            // The resourceVersion read is sent back: a concurrent writer (kubeadm itself) makes this a 409, never overwritten.
            await k.api.replaceNamespacedConfigMap({ name: NAME, namespace: NAMESPACE, body: { ...found.cm, data: found.diff!.data } })
            evidence = `ClusterStatus: ${changes(found.diff, true).join(', ')}`
            return
          } catch (e) {
            if (apiCode(e) !== 409 || attempt >= 3) throw e
          }
        }
      })
    },
    async verify(ctx) {
      const c = ctx as StepContext<unknown>
      const found = await withKube(c, via, (k) => compare(c, k, candidates))
      if (!found) return `no ${NAME} ConfigMap in ${NAMESPACE}: nothing of kubeadm's to keep`
      if (!found.diff) return `${NAME} has no ClusterStatus (kubeadm ≥ 1.22): nothing to keep`
      const what = changes(found.diff)
      if (what.length) {
        throw new DrError({ code: 'member.unverified', message: `kubeadm's ClusterStatus still differs from the etcd members (${what.join(', ')})`, host: via, exit: 'unverified', hint: 'run again: the step resumes' })
      }
      return evidence || 'ClusterStatus lists exactly the control-plane members'
    },
  }
}
