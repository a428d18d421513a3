// The Kubernetes half of a failover: apiservers pointed at live etcd members only, the dead site's Nodes
// tainted out-of-service (or deleted) so their pods move, and RKE's cluster.yml without the dead nodes.
import fs from 'node:fs'
import { DrError } from '../../src/core/error.ts'
import type { Inventory } from '../../src/inventory/types.ts'
import { addTaint, connectKube, getHealth, hasTaint, nodeForHost, OUT_OF_SERVICE, waitReady } from '../../src/kube/client.ts'
import { withoutNodes, writeRkeConfig } from '../../src/kube/rke-config.ts'
import type { Step, StepContext } from '../../src/runbook/types.ts'
import { recreateStep, tryInspect } from './containers.ts'
import { getFlag } from '../../src/container/command-flags.ts'
import { processArgv } from '../../src/container/inspect.ts'

const etcdServersOf = (argv: string[]) => (getFlag(argv, '--etcd-servers') ?? '').split(',').filter(Boolean)

const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x))

async function apiserverReady(ctx: StepContext<unknown>, host: string): Promise<boolean> {
  if (!ctx.inv.kubernetes.kubeconfig) return true
  const k = await connectKube(ctx.conns, ctx.inv, host).catch(() => undefined)
  if (!k) return false
  try {
    return (await getHealth(k.kc, '/readyz')).status === 200
  } finally {
    await k.close()
  }
}

/** One step per surviving controlplane host: --etcd-servers = the live members, kubelet restarted, /readyz. */
export function apiserverSteps<F>(hosts: string[], liveUrls: (inv: Inventory) => string[]): Step<F>[] {
  return hosts.map((host) =>
    recreateStep<F>({
      id: `apiserver-etcd-servers-${host}`,
      title: `Point kube-apiserver on ${host} at the live etcd members only`,
      host,
      container: (inv) => inv.kubernetes.apiserverContainer,
      edit: (_f, inv) => ({ setArgs: { '--etcd-servers': liveUrls(inv).join(',') } }),
      async done(ctx, c) {
        if (!c) return false
        const current = etcdServersOf(processArgv(c))
        return sameSet(current, liveUrls(ctx.inv)) && !!c.State?.Running && (await apiserverReady(ctx as StepContext<unknown>, host))
      },
      async after(ctx) {
        const t = await ctx.conns.get(host)
        // RKE restarts the kubelet after changing the control plane; it re-reads its apiserver connection.
        const kubelet = ctx.inv.kubernetes.kubeletContainer
        if (await tryInspect(t, kubelet)) await t.$`docker restart ${kubelet}`
        if (!ctx.inv.kubernetes.kubeconfig) return 'kubelet restarted (no kubeconfig: readiness not checked)'
        const k = await connectKube(ctx.conns, ctx.inv, host)
        try {
          const ms = await waitReady(k.kc, 60_000, host)
          return `kubelet restarted; /readyz ok after ${(ms / 1000).toFixed(1)} s`
        } finally {
          await k.close()
        }
      },
    }),
  )
}

export async function verifyApiservers(ctx: StepContext<unknown>, site: string, live: string[]): Promise<string[]> {
  const out: string[] = []
  for (const h of (ctx.inv.sites[site]?.hosts ?? []).map((n) => ctx.inv.hosts[n]).filter((x) => x.roles.includes('controlplane'))) {
    const c = await tryInspect(await ctx.conns.get(h.name), ctx.inv.kubernetes.apiserverContainer)
    if (!c) continue
    const servers = etcdServersOf(processArgv(c))
    if (!sameSet(servers, live)) {
      throw new DrError({ code: 'failover.unverified', message: `kube-apiserver on ${h.name} uses --etcd-servers=${servers.join(',')}`, exit: 'unverified' })
    }
    if (!(await apiserverReady(ctx, h.name))) {
      throw new DrError({ code: 'failover.unverified', message: `kube-apiserver on ${h.name} is not ready`, exit: 'unverified', host: h.name })
    }
    out.push(`kube-apiserver on ${h.name}: ready, --etcd-servers=${servers.join(',')}`)
  }
  return out
}

/** Taint the dead site's Nodes out-of-service (their pods are then evicted), or delete them. */
export function nodeSteps<F>(deadHosts: string[], deleteNodes: boolean, viaHosts: string[]): Step<F>[] {
  const via = viaHosts[0]
  if (!via) return []
  const pending = async (ctx: StepContext<F>) => {
    const k = await connectKube(ctx.conns, ctx.inv, via)
    try {
      const nodes = (await k.api.listNode()).items
      return deadHosts
        .map((h) => nodeForHost(nodes, h, ctx.inv.hosts[h].address))
        .filter((n) => n !== undefined)
        .filter((n) => deleteNodes || !hasTaint(n!, OUT_OF_SERVICE))
        .map((n) => n!)
    } finally {
      await k.close()
    }
  }
  return [
    {
      id: deleteNodes ? 'delete-dead-nodes' : 'taint-dead-nodes',
      title: deleteNodes
        ? "Delete the lost site's Node objects"
        : "Taint the lost site's Nodes node.kubernetes.io/out-of-service=nodeshutdown:NoExecute so their pods move",
      destructive: deleteNodes,
      async check(ctx) {
        if (!ctx.inv.kubernetes.kubeconfig) return []
        const nodes = await pending(ctx).catch(() => undefined)
        if (!nodes) return deadHosts.map((h) => ({ host: via, summary: `${deleteNodes ? 'delete' : 'taint'} Node ${h} once the apiserver on ${via} is ready` }))
        return nodes.map((n) => ({ host: via, summary: `${deleteNodes ? 'delete' : 'taint'} Node ${n.metadata!.name}`, destructive: deleteNodes }))
      },
      async apply(ctx) {
        const k = await connectKube(ctx.conns, ctx.inv, via)
        try {
          await waitReady(k.kc, 60_000, via)
          for (const n of await pending(ctx)) {
            if (deleteNodes) await k.api.deleteNode({ name: n.metadata!.name! })
            else await addTaint(k.api, n, OUT_OF_SERVICE)
          }
        } finally {
          await k.close()
        }
      },
      async verify(ctx) {
        const left = await pending(ctx)
        if (left.length) {
          throw new DrError({ code: 'failover.unverified', message: `Nodes not yet ${deleteNodes ? 'deleted' : 'tainted'}: ${left.map((n) => n.metadata!.name).join(', ')}`, exit: 'unverified' })
        }
        return `${deadHosts.length} host(s) of the lost site handled`
      },
    },
  ]
}

export function rkeConfigStep<F>(file: string, deadHosts: string[]): Step<F> {
  const drop = (inv: Inventory) => new Set(deadHosts.flatMap((h) => [inv.hosts[h].address, h]))
  return {
    id: 'rke-config',
    title: `Write ${file} without the lost site's nodes (kept as .bak)`,
    async check(ctx) {
      if (!fs.existsSync(file)) throw new DrError({ code: 'rke.no-config', message: `${file} does not exist`, exit: 'usage', hint: 'pass the cluster.yml that `rke up` uses' })
      const { removed } = withoutNodes(fs.readFileSync(file, 'utf8'), drop(ctx.inv))
      return removed.map((a) => ({ summary: `remove node ${a} from ${file}` }))
    },
    async apply(ctx) {
      const { text } = withoutNodes(fs.readFileSync(file, 'utf8'), drop(ctx.inv))
      writeRkeConfig(file, text)
    },
    async verify(ctx) {
      if (withoutNodes(fs.readFileSync(file, 'utf8'), drop(ctx.inv)).removed.length) {
        throw new DrError({ code: 'failover.unverified', message: `${file} still lists lost nodes`, exit: 'unverified' })
      }
    },
  }
}
