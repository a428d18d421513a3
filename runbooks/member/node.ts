// Moving a replaced host's Node: the old Node object is deleted so its pods reschedule (a dead kubelet never
// confirms their deletion); the new host's kubelet registers its own Node.
import { DrError } from '../../src/core/error.ts'
import { connectKube, nodeForHost, waitReady } from '../../src/kube/client.ts'
import type { Step } from '../../src/runbook/types.ts'

export function moveNodeStep<F>(oldHost: string, newHost: string, via: string): Step<F> {
  const find = async (ctx: Parameters<Step<F>['check']>[0]) => {
    const k = await connectKube(ctx.conns, ctx.inv, via)
    try {
      const nodes = (await k.api.listNode()).items
      return { old: nodeForHost(nodes, oldHost, ctx.inv.hosts[oldHost].address), added: nodeForHost(nodes, newHost, ctx.inv.hosts[newHost].address) }
    } finally {
      await k.close()
    }
  }
  return {
    id: `node-move-${oldHost}`,
    title: `Delete the Node ${oldHost} so its pods reschedule (${newHost}'s kubelet registers its own)`,
    host: via,
    destructive: true,
    async check(ctx) {
      if (!ctx.inv.kubernetes.kubeconfig) return []
      // The apiserver may not be ready before the earlier steps ran (plan time): then say what will happen.
      const n = await find(ctx).catch(() => undefined)
      if (!n) return [{ host: via, destructive: true, summary: `delete Node ${oldHost} once the apiserver on ${via} is ready` }]
      return n.old ? [{ host: via, destructive: true, summary: `delete Node ${n.old.metadata!.name}` }] : []
    },
    async apply(ctx) {
      const k = await connectKube(ctx.conns, ctx.inv, via)
      try {
        await waitReady(k.kc, 60_000, via)
        const n = nodeForHost((await k.api.listNode()).items, oldHost, ctx.inv.hosts[oldHost].address)
        if (n) await k.api.deleteNode({ name: n.metadata!.name! })
      } finally {
        await k.close()
      }
    },
    async verify(ctx) {
      const n = await find(ctx)
      if (n.old) throw new DrError({ code: 'member.unverified', message: `Node ${n.old.metadata!.name} still exists`, exit: 'unverified', host: via })
      return n.added ? `Node ${n.added.metadata!.name} is registered` : `${newHost} has no Node yet: its kubelet registers it once it runs (RKE: rke up with ${newHost} in cluster.yml)`
    },
  }
}
