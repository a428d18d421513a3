// The failback's own steps around the member steps: a fenced kube-apiserver brought back under its name, the
// returning site's Nodes put back in service, and the fence markers lifted once the hosts are members again.
import { DrError } from '../../src/core/error.ts'
import { FENCE_MARKER } from '../../src/cluster/fence-state.ts'
import { connectKube, hasTaint, nodeForHost, OUT_OF_SERVICE, waitReady } from '../../src/kube/client.ts'
import type { Step, StepContext } from '../../src/runbook/types.ts'
import type { Transport } from '../../src/transport/types.ts'
import { ContainerComponent, StaticPodComponent } from '../../src/component/index.ts'
import { componentOf, tryInspect } from '../steps/containers.ts'
import type { V1Node } from '@kubernetes/client-node'

const tagNow = () => new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')

/** Run a step written for other facts (the fence runbook's) inside this runbook. */
export function adaptStep<F, G>(s: Step<G>, pick: (f: F) => G): Step<F> {
  const inner = (ctx: StepContext<F>): StepContext<G> => ({ ...ctx, facts: pick(ctx.facts) })
  return { ...s, check: (ctx) => s.check(inner(ctx)), apply: (ctx, ch) => s.apply(inner(ctx), ch), verify: (ctx) => s.verify(inner(ctx)) }
}

async function newestFenced(t: Transport, name: string): Promise<string | undefined> {
  const names = (await t.$`docker ps -a --format {{.Names}}`.text()).split('\n').filter((n) => n.startsWith(`${name}-fenced-`))
  // The tag is a UTC timestamp: the newest sorts last.
  return names.sort().pop()
}

/**
 * RKE: kube-apiserver-fenced-<time> back as kube-apiserver (stopped, restart policy always); the apiserver step
 * then re-creates it. kubeadm: nothing to rename — the fenced manifest waits in /etc/kubernetes/dr/stopped/ and the
 * apiserver step moves it back with the new --etcd-servers; only a host with no manifest at all is refused.
 */
export function apiserverReturnStep<F>(host: string): Step<F> {
  return {
    id: `apiserver-return-${host}`,
    title: `Bring ${host}'s fenced kube-apiserver back under its name (re-created below with the new --etcd-servers)`,
    host,
    async check(ctx) {
      const t = await ctx.conns.get(host)
      const comp = componentOf(ctx.inv, t, 'kube-apiserver')
      if (await comp.state()) return []
      if (comp instanceof StaticPodComponent) {
        throw new DrError({
          code: 'failback.no-apiserver',
          message: `${host} has no kube-apiserver manifest: neither ${comp.manifest} nor ${comp.stash}`,
          host,
          hint: `look in ${comp.drDir}/backup/ for a kept one, or write it as kubeadm would (kubeadm init phase control-plane apiserver), then run dr failback again`,
        })
      }
      const name = ctx.inv.kubernetes.apiserverContainer
      const fenced = await newestFenced(t, name)
      if (!fenced) {
        throw new DrError({
          code: 'failback.no-apiserver',
          message: `${host} has no ${name} container, fenced or not`,
          host,
          hint: `create it as \`rke up\` would, then run dr failback again`,
        })
      }
      return [{ host, summary: `rename ${fenced} to ${name}, restart policy always (still stopped)` }]
    },
    async apply(ctx) {
      const t = await ctx.conns.get(host)
      if (!(componentOf(ctx.inv, t, 'kube-apiserver') instanceof ContainerComponent)) return
      const name = ctx.inv.kubernetes.apiserverContainer
      const fenced = await newestFenced(t, name)
      if (fenced) await t.$`docker rename ${fenced} ${name} && docker update --restart=always ${name} >/dev/null`
    },
    async verify(ctx) {
      const s = await componentOf(ctx.inv, await ctx.conns.get(host), 'kube-apiserver').state()
      if (!s) throw new DrError({ code: 'failback.unverified', message: `no kube-apiserver on ${host}`, host, exit: 'unverified' })
      return `${s.where}${s.stopped ? ' (stopped: started below)' : ''}`
    },
  }
}

/** The returning site's Nodes: the out-of-service taint lifted; a deleted Node re-registered by restarting its kubelet. */
export function nodesReturnStep<F>(site: string, hosts: string[], via: string): Step<F> {
  const state = async (ctx: StepContext<F>) => {
    const k = await connectKube(ctx.conns, ctx.inv, via)
    try {
      const nodes = (await k.api.listNode()).items
      const tainted: V1Node[] = []
      const missing: string[] = []
      for (const h of hosts) {
        const n = nodeForHost(nodes, h, ctx.inv.hosts[h].address)
        if (!n) missing.push(h)
        else if (hasTaint(n, OUT_OF_SERVICE)) tainted.push(n)
      }
      return { tainted, missing }
    } finally {
      await k.close()
    }
  }
  return {
    id: `nodes-return-${site}`,
    title: `Put site ${site}'s Nodes back in service (lift the out-of-service taint, re-register deleted Nodes)`,
    host: via,
    async check(ctx) {
      if (!ctx.inv.kubernetes.kubeconfig) return []
      // The apiserver may not be ready before the earlier steps ran (plan time): then say what will happen.
      const s = await state(ctx).catch(() => undefined)
      if (!s) return hosts.map((h) => ({ host: via, summary: `lift the out-of-service taint of Node ${h} (or re-register it) once the apiserver on ${via} is ready` }))
      return [
        ...s.tainted.map((n) => ({ host: via, summary: `remove taint ${OUT_OF_SERVICE.key}=${OUT_OF_SERVICE.value}:${OUT_OF_SERVICE.effect} from Node ${n.metadata!.name}` })),
        ...s.missing.map((h) => ({ host: h, summary: `restart ${ctx.inv.kubernetes.kubeletContainer} on ${h} so it registers its Node again` })),
      ]
    },
    async apply(ctx) {
      const k = await connectKube(ctx.conns, ctx.inv, via)
      try {
        await waitReady(k.kc, 60_000, via)
        const s = await state(ctx)
        for (const n of s.tainted) {
          const taints = (n.spec?.taints ?? []).filter((x) => !(x.key === OUT_OF_SERVICE.key && x.effect === OUT_OF_SERVICE.effect))
          await k.api.patchNode({ name: n.metadata!.name!, body: [{ op: 'add', path: '/spec/taints', value: taints }] })
        }
        for (const h of s.missing) {
          const t = await ctx.conns.get(h)
          if (await tryInspect(t, ctx.inv.kubernetes.kubeletContainer)) await t.$`docker restart ${ctx.inv.kubernetes.kubeletContainer}`
        }
        const until = Date.now() + 60_000
        while ((await state(ctx)).missing.length && Date.now() < until) await new Promise((r) => setTimeout(r, 1000))
      } finally {
        await k.close()
      }
    },
    async verify(ctx) {
      const s = await state(ctx)
      if (s.tainted.length || s.missing.length) {
        throw new DrError({
          code: 'failback.unverified',
          message: `Nodes not back in service: ${[...s.tainted.map((n) => `${n.metadata!.name} (tainted)`), ...s.missing.map((h) => `${h} (not registered)`)].join(', ')}`,
          exit: 'unverified',
          hint: `check the kubelet on those hosts (docker logs --tail 50 ${ctx.inv.kubernetes.kubeletContainer}); run again to resume`,
        })
      }
      return `${hosts.length} Node(s) of site ${site} in service`
    },
  }
}

/** The fence marker moved aside once the host is home (kept as fence.json.lifted-<time>). */
export function liftFenceStep<F>(host: string): Step<F> {
  return {
    id: `fence-lift-${host}`,
    title: `Lift the fence marker on ${host}`,
    host,
    async check(ctx) {
      const t = await ctx.conns.get(host)
      return (await t.$`test -f ${FENCE_MARKER}`.nothrow()).ok ? [{ host, summary: `move ${FENCE_MARKER} to ${FENCE_MARKER}.lifted-<time>` }] : []
    },
    async apply(ctx) {
      const t = await ctx.conns.get(host)
      await t.$`if [ -f ${FENCE_MARKER} ]; then mv ${FENCE_MARKER} ${`${FENCE_MARKER}.lifted-${tagNow()}`}; fi`
    },
    async verify(ctx) {
      const t = await ctx.conns.get(host)
      if ((await t.$`test -f ${FENCE_MARKER}`.nothrow()).ok) throw new DrError({ code: 'failback.unverified', message: `${FENCE_MARKER} is still on ${host}`, host, exit: 'unverified' })
    },
  }
}
