// The Kubernetes half of a failover: apiservers pointed at live etcd members only, the dead site's Nodes
// tainted out-of-service or deleted (by the cluster's version) so their pods move, and RKE's cluster.yml without
// the dead nodes. Nothing here says "done" without having checked: a step that cannot act refuses, unless the
// operator said --skip-kubernetes (options.skipKubernetes), which the plan and the summary repeat.
import fs from 'node:fs'
import { DrError } from '../../src/core/error.ts'
import type { Inventory } from '../../src/inventory/types.ts'
import { addTaint, connectKube, getHealth, hasTaint, nodeForHost, OUT_OF_SERVICE, readyzAnonymous, serverVersion, type KubeConnection } from '../../src/kube/client.ts'
import { chooseEviction, type EvictionChoice } from '../../src/kube/eviction.ts'
import type { V1Node, V1Pod } from '@kubernetes/client-node'
import { withoutNodes, writeRkeConfig } from '../../src/kube/rke-config.ts'
import type { Step, StepContext } from '../../src/runbook/types.ts'
import { componentOf, reconfigureStep, tryInspect, type ComponentState } from './containers.ts'
import { getFlag } from '../../src/container/command-flags.ts'
import { memberEndpoint } from '../../src/etcd/client.ts'

/** The etcd servers an apiserver's command names (--etcd-servers). */
export const etcdServersOf = (argv: string[]) => (getFlag(argv, '--etcd-servers') ?? '').split(',').filter(Boolean)

const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x))

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]'])
const isLoopback = (url: string) => URL.canParse(url) && LOOPBACK.has(new URL(url).hostname)

/**
 * Does an apiserver's --etcd-servers on `host` use live members only? Exactly the live members (RKE lists every
 * member), or — kubeadm's shape — its own local member through loopback, when that member is live.
 */
export function etcdServersHold(servers: string[], live: string[], hostUrl: string): boolean {
  if (sameSet(servers, live)) return true
  return servers.length > 0 && servers.every(isLoopback) && live.includes(hostUrl)
}

/** The apiserver's etcd servers in words, loopback resolved to the host's own member. */
const describeServers = (servers: string[], hostUrl: string) => servers.map((u) => (isLoopback(u) ? `${u} (${hostUrl}, its own member)` : u)).join(',')


/** The operator left Kubernetes to themselves: --skip-kubernetes. */
export const skippingKubernetes = (ctx: { options: Record<string, unknown> }) => !!ctx.options.skipKubernetes

export const SKIP_KUBERNETES_NOTE =
  "Kubernetes: SKIPPED (--skip-kubernetes): the lost site's Nodes were neither tainted nor deleted, so their pods do not move, and apiserver readiness was not checked; do it by hand (kubectl delete node <lost node>, or on Kubernetes >= 1.26 kubectl taint node <lost node> node.kubernetes.io/out-of-service=nodeshutdown:NoExecute)"

function noCredentials(what: string): DrError {
  return new DrError({
    code: 'kube.no-credentials',
    message: `cannot ${what}: kubernetes.kubeconfig is not set in the inventory`,
    hint: 'set kubernetes.kubeconfig (RKE writes kube_config_cluster.yml beside cluster.yml), or run with --skip-kubernetes to leave Kubernetes to you (the summary says so)',
    exit: 'refused',
  })
}

/** /readyz of the host's apiserver: with the kubeconfig's credentials, else anonymously (allowed by default). */
async function apiserverReadyz(ctx: StepContext<unknown>, host: string): Promise<{ status: number; body: string }> {
  if (!ctx.inv.kubernetes.kubeconfig) return readyzAnonymous(ctx.conns, ctx.inv, host)
  const k = await connectKube(ctx.conns, ctx.inv, host)
  try {
    return await getHealth(k.kc, '/readyz')
  } finally {
    await k.close()
  }
}

async function apiserverReady(ctx: StepContext<unknown>, host: string): Promise<boolean> {
  return (await apiserverReadyz(ctx, host)).status === 200
}

/** How often a restarting apiserver's /readyz is asked: each ask is one request through the open tunnel. */
const READY_POLL_MS = 200

async function waitApiserverReady(ctx: StepContext<unknown>, host: string, timeoutMs: number): Promise<number> {
  const started = Date.now()
  let last = { status: 0, body: '' }
  // One tunnel for the whole wait (each request opens its own channel through it, so it outlives an apiserver
  // restart); anonymous probes, without a kubeconfig, set theirs up each time.
  const k = ctx.inv.kubernetes.kubeconfig ? await connectKube(ctx.conns, ctx.inv, host) : undefined
  try {
    while (Date.now() - started < timeoutMs) {
      last = k ? await getHealth(k.kc, '/readyz') : await apiserverReadyz(ctx, host)
      if (last.status === 200) return Date.now() - started
      await new Promise((r) => setTimeout(r, READY_POLL_MS))
    }
  } finally {
    await k?.close()
  }
  throw new DrError({
    code: 'kube.not-ready',
    message: `kube-apiserver on ${host} did not become ready within ${Math.round(timeoutMs / 1000)} s (last: ${last.status} ${last.body.slice(0, 120)})`,
    host,
    hint: `look at its log: ${componentOf(ctx.inv, await ctx.conns.get(host), 'kube-apiserver').logHint()}`,
  })
}

/**
 * One step per surviving controlplane host: --etcd-servers = the live members (a kubeadm apiserver on its own live
 * member through loopback is left so), the kubelet restarted where it is RKE's container, /readyz.
 */
export function apiserverSteps<F>(hosts: string[], liveUrls: (inv: Inventory) => string[]): Step<F>[] {
  return hosts.map((host) =>
    reconfigureStep<F>({
      id: `apiserver-etcd-servers-${host}`,
      title: `Point kube-apiserver on ${host} at the live etcd members only`,
      host,
      component: 'kube-apiserver',
      edit: (_f, inv, s) =>
        s?.kind === 'static-pod' && etcdServersHold(etcdServersOf(s.argv), liveUrls(inv), memberEndpoint(inv, host)) ? {} : { setArgs: { '--etcd-servers': liveUrls(inv).join(',') } },
      async done(ctx, s) {
        if (!s?.running || !etcdServersHold(etcdServersOf(s.argv), liveUrls(ctx.inv), memberEndpoint(ctx.inv, host))) return false
        return skippingKubernetes(ctx) || (await apiserverReady(ctx as StepContext<unknown>, host))
      },
      async after(ctx) {
        const t = await ctx.conns.get(host)
        // RKE restarts its kubelet container after changing the control plane; it re-reads its apiserver connection.
        // A kubeadm kubelet is the host's service, and a static pod needs no restart of it.
        const kubelet = ctx.inv.kubernetes.kubeletContainer
        const rke = componentOf(ctx.inv, t, 'kube-apiserver').kind === 'container'
        const restarted = rke && !!(await tryInspect(t, kubelet))
        if (restarted) await t.$`docker restart ${kubelet}`
        const what = restarted ? 'kubelet restarted' : 'the kubelet re-created the pod'
        if (skippingKubernetes(ctx)) return `${what}; readiness NOT checked (--skip-kubernetes)`
        const ms = await waitApiserverReady(ctx as StepContext<unknown>, host, 60_000)
        return `${what}; /readyz ok after ${(ms / 1000).toFixed(1)} s`
      },
    }),
  )
}

export async function verifyApiservers(ctx: StepContext<unknown>, site: string, live: string[]): Promise<string[]> {
  const out: string[] = []
  for (const h of (ctx.inv.sites[site]?.hosts ?? []).map((n) => ctx.inv.hosts[n]).filter((x) => x.roles.includes('controlplane'))) {
    const api = componentOf(ctx.inv, await ctx.conns.get(h.name), 'kube-apiserver')
    const where = api.kind === 'container' ? `container ${ctx.inv.kubernetes.apiserverContainer}` : 'kube-apiserver static pod (manifest)'
    const s: ComponentState | undefined = await api.state()
    if (!s) {
      if (skippingKubernetes(ctx)) {
        out.push(`kube-apiserver on ${h.name}: no ${where} — NOT CHECKED (--skip-kubernetes)`)
        continue
      }
      throw new DrError({
        code: 'failover.unverified',
        message: `kube-apiserver on ${h.name}: there is no ${where}, so nothing serves Kubernetes there`,
        host: h.name,
        exit: 'unverified',
        hint: api.kind === 'container'
          ? `check kubernetes.apiserverContainer in the inventory and \`docker ps -a\` on ${h.name}; --skip-kubernetes leaves Kubernetes to you`
          : `look in /etc/kubernetes/manifests and /etc/kubernetes/dr on ${h.name}; --skip-kubernetes leaves Kubernetes to you`,
      })
    }
    const servers = etcdServersOf(s.argv)
    const own = memberEndpoint(ctx.inv, h.name)
    if (!etcdServersHold(servers, live, own)) {
      throw new DrError({ code: 'failover.unverified', message: `kube-apiserver on ${h.name} uses --etcd-servers=${servers.join(',')}`, exit: 'unverified', host: h.name })
    }
    if (skippingKubernetes(ctx)) {
      out.push(`kube-apiserver on ${h.name}: --etcd-servers=${describeServers(servers, own)}; readiness NOT checked (--skip-kubernetes)`)
      continue
    }
    if (!(await apiserverReady(ctx, h.name))) {
      throw new DrError({ code: 'failover.unverified', message: `kube-apiserver on ${h.name} is not ready`, exit: 'unverified', host: h.name })
    }
    out.push(`kube-apiserver on ${h.name}: ready, --etcd-servers=${describeServers(servers, own)}`)
  }
  return out
}

/** What the lost site's Nodes need, read through one apiserver. */
interface NodeWork {
  choice: EvictionChoice
  /** Nodes still to taint or delete. */
  todo: V1Node[]
  /** Nodes already handled (tainted, or gone). */
  handled: string[]
  /** Hosts with no Node (by name or InternalIP): deleted already, or never registered. */
  notFound: string[]
  /** Pods still bound to a lost Node. */
  stuck: V1Pod[]
}

const POD_GC_TIMEOUT_MS = 120_000
/** How long the apply itself keeps releasing pods the taint manager is still marking (then verify waits on). */
const RELEASE_WAIT_MS = 15_000

/**
 * Force-delete (grace 0) the pods bound to lost Nodes that the pod GC would delete: orphans, whose Node is gone,
 * and pods already terminating on a Node tainted out-of-service (kube-controller-manager's gcOrphaned and
 * gcTerminating). The pod GC runs every 20 s and quarantines an orphan's Node for 40 s first; the site is known
 * lost (fenced, or unreachable with quorum gone), so nothing is gained by waiting for it, and a StatefulSet's
 * replacement cannot start before its old pod is gone. A pod not yet marked is left to the taint manager, retried
 * until `deadline`. Returns how many were deleted.
 */
async function releasePods(k: KubeConnection, lostNodes: Set<string>, deadline: number): Promise<number> {
  let deleted = 0
  for (;;) {
    const [pods, nodes] = await Promise.all([k.api.listPodForAllNamespaces(), k.api.listNode()])
    const present = new Set(nodes.items.map((n) => n.metadata!.name!))
    const stuck = pods.items.filter((p) => lostNodes.has(p.spec?.nodeName ?? ''))
    const due = stuck.filter((p) => !present.has(p.spec!.nodeName!) || p.metadata?.deletionTimestamp)
    await Promise.all(
      due.map((p) =>
        k.api.deleteNamespacedPod({ name: p.metadata!.name!, namespace: p.metadata!.namespace!, gracePeriodSeconds: 0 }).then(
          () => void deleted++,
          (e) => {
            // Gone already (its kubelet or the pod GC got there first): what was wanted.
            if ((e as { code?: number }).code !== 404) throw e
          },
        ),
      ),
    )
    if (stuck.length === due.length || Date.now() > deadline) return deleted
    await new Promise((r) => setTimeout(r, 500))
  }
}

/**
 * Move the lost site's pods. The method follows the server's version (src/kube/eviction.ts): the out-of-service
 * taint where it moves pods (≥ 1.26), else the Node is deleted; `--delete-nodes` always deletes. Verified by the
 * pods: none may remain bound to a lost Node.
 */
export function nodeSteps<F>(deadHosts: string[], deleteNodes: boolean, viaHosts: string[]): Step<F>[] {
  const via = viaHosts[0]
  if (!via) return []
  // Names of the lost Nodes seen in this run (a Node found by address may be named differently from its host).
  const lostNames = new Set(deadHosts)
  const work = async (ctx: StepContext<F>, open?: KubeConnection): Promise<NodeWork> => {
    const k = open ?? (await connectKube(ctx.conns, ctx.inv, via))
    try {
      const choice = chooseEviction(await serverVersion(k.kc, via), deleteNodes)
      const nodes = (await k.api.listNode()).items
      const out: NodeWork = { choice, todo: [], handled: [], notFound: [], stuck: [] }
      for (const h of deadHosts) {
        const n = nodeForHost(nodes, h, ctx.inv.hosts[h].address)
        if (!n) {
          out.notFound.push(h)
          continue
        }
        lostNames.add(n.metadata!.name!)
        if (choice.method === 'taint-out-of-service' && hasTaint(n, OUT_OF_SERVICE)) out.handled.push(n.metadata!.name!)
        else out.todo.push(n)
      }
      const pods = (await k.api.listPodForAllNamespaces()).items
      out.stuck = pods.filter((p) => lostNames.has(p.spec?.nodeName ?? ''))
      return out
    } finally {
      if (!open) await k.close()
    }
  }
  let forced = 0
  const verb = (w: NodeWork) => (w.choice.method === 'delete-node' ? 'delete' : 'taint node.kubernetes.io/out-of-service=nodeshutdown:NoExecute on')
  return [
    {
      id: deleteNodes ? 'delete-dead-nodes' : 'taint-dead-nodes',
      title: deleteNodes
        ? "Delete the lost site's Node objects so their pods move"
        : "Move the lost site's pods: taint its Nodes node.kubernetes.io/out-of-service (Kubernetes >= 1.26) or delete them (older)",
      destructive: true,
      async check(ctx) {
        if (skippingKubernetes(ctx)) return []
        if (!ctx.inv.kubernetes.kubeconfig) throw noCredentials("move the lost site's pods (taint or delete its Nodes)")
        const deferred = () => deadHosts.map((h) => ({ host: via, summary: `once the apiserver on ${via} is ready: read its version, then taint Node ${h} out-of-service (>= 1.26) or delete it (older), and force-delete its pods the pod GC would remove` }))
        // In a plan where earlier steps change etcd or the apiservers, what the apiserver says now (if it answers at
        // all without quorum) is not what this step will find: say what it will do. The apply checks for real.
        if (ctx.planning && ctx.willChange?.size) return deferred()
        let w: NodeWork
        try {
          w = await work(ctx)
        } catch (e) {
          // Before etcd is rebuilt the apiserver cannot answer (it has no quorum): say what will be done once it can.
          if (e instanceof DrError && e.code.startsWith('kube.') && e.code !== 'kube.not-ready' && e.code !== 'kube.version-unreadable') throw e
          return deferred()
        }
        const changes = w.todo.map((n) => ({ host: via, summary: `${verb(w)} Node ${n.metadata!.name} — ${w.choice.reason}`, destructive: w.choice.method === 'delete-node' }))
        if (w.stuck.length) changes.push({ host: via, summary: `force-delete the ${w.stuck.length} pod(s) still bound to lost Nodes once orphaned or terminating (as the pod GC would, 20–60 s later), and wait until none is left`, destructive: true })
        return changes
      },
      async apply(ctx) {
        await waitApiserverReady(ctx as StepContext<unknown>, via, 60_000)
        const k = await connectKube(ctx.conns, ctx.inv, via)
        try {
          const w = await work(ctx, k)
          // Each Node is its own object: the requests go out together.
          await Promise.all(w.todo.map((n) => (w.choice.method === 'delete-node' ? k.api.deleteNode({ name: n.metadata!.name! }) : addTaint(k.api, n, OUT_OF_SERVICE))))
          forced = await releasePods(k, lostNames, Date.now() + RELEASE_WAIT_MS)
        } finally {
          await k.close()
        }
      },
      async verify(ctx) {
        const until = Date.now() + POD_GC_TIMEOUT_MS
        let w = await work(ctx)
        while (w.todo.length === 0 && w.stuck.length > 0 && Date.now() < until) {
          await new Promise((r) => setTimeout(r, 500))
          w = await work(ctx)
        }
        if (w.todo.length) {
          throw new DrError({ code: 'failover.unverified', message: `Nodes not yet ${w.choice.method === 'delete-node' ? 'deleted' : 'tainted'}: ${w.todo.map((n) => n.metadata!.name).join(', ')}`, exit: 'unverified' })
        }
        if (w.stuck.length) {
          throw new DrError({
            code: 'failover.unverified',
            message: `${w.stuck.length} pod(s) are still bound to lost Nodes ${Math.round(POD_GC_TIMEOUT_MS / 1000)} s later: ${w.stuck.slice(0, 5).map((p) => `${p.metadata?.namespace}/${p.metadata?.name} on ${p.spec?.nodeName}`).join(', ')}`,
            hint: `${w.choice.reason}; check the controller manager's pod GC, or force-delete them: kubectl delete pod --force --grace-period=0 …`,
            exit: 'unverified',
          })
        }
        const handled = w.choice.method === 'delete-node' ? `Nodes deleted (or gone): ${[...lostNames].filter((n) => !w.handled.includes(n)).join(', ')}` : `tainted out-of-service: ${w.handled.join(', ')}`
        const missing = w.notFound.length && w.choice.method === 'taint-out-of-service' ? `; NO Node found for ${w.notFound.join(', ')} (by name or InternalIP)` : ''
        const released = forced ? `; ${forced} pod(s) force-deleted from them, as the pod GC would have done ${w.choice.method === 'delete-node' ? '40 s or more' : 'up to 20 s'} later` : ''
        return `${w.choice.method === 'delete-node' ? 'deleted' : 'tainted'} — ${w.choice.reason}; ${handled}${missing}${released}; no pod left on a lost Node`
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
