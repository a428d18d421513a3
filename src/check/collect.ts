// Gathering what the checks read, fanned out over every host at once (at most ssh.concurrency at a time):
// one facts script, one `docker inspect` of the control-plane containers and the certificates they name per
// host; then the cluster's view: etcd status, alarms, member list, apiserver readiness, Nodes.
// etcd3 and @kubernetes/client-node take seconds to load on a busy machine: they are imported only when the
// checks asked for need them (`dr check preflight nodes` loads neither).
import type { V1Node } from '@kubernetes/client-node'
import type { DrError } from '../core/error.ts'
import type { Host, Inventory } from '../inventory/types.ts'
import type { Transport } from '../transport/types.ts'
import { hostPath, hostsWithRole } from '../inventory/types.ts'
import type { Connections } from '../transport/connect.ts'
import type { ContainerInspect } from '../container/inspect.ts'
import { processArgv } from '../container/inspect.ts'
import type { ClusterStatus } from '../etcd/status.ts'
import { factsScript, parseFacts, type HostFacts } from './host-facts.ts'
import { runtimeFor, runtimeName } from '../component/runtime.ts'
import { certFilesOf, readCertFile, type CertInfo } from './certs.ts'

export type Component = 'etcd' | 'apiserver'

export interface HostReport {
  host: string
  error?: { code: string; message: string; hint?: string }
  facts?: HostFacts
  sudo?: { used: boolean; ok: boolean; detail: string }
  inspects: Partial<Record<Component, ContainerInspect>>
  certs: CertInfo[]
  durationMs: number
}

export interface ClusterReport {
  etcd?: ClusterStatus
  alarms?: Array<{ memberID: string; alarm: string }>
  alarmsError?: string
  readyz: Record<string, { status: number; body: string }>
  nodes?: V1Node[]
  nodesError?: string
}

/** A component's container name in its static pod (the label io.kubernetes.container.name). */
const POD_CONTAINER: Record<Component, string> = { etcd: 'etcd', apiserver: 'kube-apiserver' }

/** The container of a component on a host: RKE's fixed name, else kubelet's `k8s_<component>_…` (static pods). */
export function componentContainer(inv: Inventory, facts: HostFacts | undefined, c: Component): string | undefined {
  const fixed = c === 'etcd' ? inv.etcd.container : inv.kubernetes.apiserverContainer
  const list = facts?.containers ?? []
  if (list.some((x) => x.name === fixed)) return fixed
  const prefix = `k8s_${POD_CONTAINER[c]}_`
  return (list.find((x) => x.name.startsWith(prefix) && x.state === 'running') ?? list.find((x) => x.name.startsWith(prefix)))?.name
}

export async function collectHost(inv: Inventory, t: Transport, h: Host): Promise<HostReport> {
    const t0 = Date.now()
    const rep: HostReport = { host: h.name, inspects: {}, certs: [], durationMs: 0 }
    const isEtcd = h.roles.includes('etcd')
    const runtime = runtimeName(inv, h.name)
    const script = factsScript({
      dataDir: inv.etcd.dataDir,
      runtime,
      etcd: isEtcd ? { clientPort: inv.etcd.clientPort, ca: hostPath(inv.etcd.caFile, h), cert: hostPath(inv.etcd.certFile, h), key: hostPath(inv.etcd.keyFile, h) } : undefined,
    })
    // One command, one round trip: the clock is bracketed inside it (host-facts.ts).
    const c0 = Date.now()
    const res = await t.exec(script, { nothrow: true, timeoutMs: 20_000, doing: 'gather node facts' })
    rep.facts = parseFacts(res.stdout, c0, Date.now())
    // The script runs under `sudo -n` when the inventory says so: it printing its end marker is the proof sudo works.
    if (h.ssh.sudo) {
      const ran = /^@@end$/m.test(res.stdout)
      rep.sudo = { used: true, ok: ran, detail: ran ? 'sudo -n works' : (res.stderr.trim().split('\n')[0] || `the facts command exited with ${res.exitCode}`) }
    }
    const mine: Component[] = [...(isEtcd ? ['etcd' as const] : []), ...(h.roles.includes('controlplane') ? ['apiserver' as const] : [])]
    if (runtime === 'containerd') await containerdPods(t, inv, h, mine, rep)
    else await dockerInspects(t, inv, mine, rep)
    const files = [
      ...(rep.inspects.etcd ? certFilesOf('etcd', 'etcd', processArgv(rep.inspects.etcd)) : []),
      ...(rep.inspects.apiserver ? certFilesOf('apiserver', 'kube-apiserver', processArgv(rep.inspects.apiserver)) : []),
    ]
    const seen = new Set<string>()
    rep.certs = await Promise.all(files.filter((f) => !seen.has(f.path) && seen.add(f.path)).map((f) => readCertFile(t, f)))
    rep.durationMs = Date.now() - t0
    return rep
}

/** docker: one `docker container inspect` of the components' containers `docker ps -a` listed. */
async function dockerInspects(t: Transport, inv: Inventory, mine: Component[], rep: HostReport) {
  const wanted = mine.map((c) => [c, componentContainer(inv, rep.facts, c)] as const)
  const names = wanted.map(([, n]) => n).filter((n): n is string => !!n)
  if (!names.length) return
  const ins = await t.$`docker container inspect ${names}`.nothrow()
  const list = ins.stdout.trim().startsWith('[') ? (JSON.parse(ins.stdout) as ContainerInspect[]) : []
  for (const [c, n] of wanted) {
    const found = list.find((x) => x.Name.replace(/^\//, '') === n)
    if (found) rep.inspects[c] = found
  }
}

/**
 * containerd (kind): `ctr` has no `ps -a` that names containers, so the control-plane pods' containers are listed
 * through the static-pod runtime (component/runtime.ts) and named as the kubelet names them on docker,
 * k8s_<container>_<pod>_<id>, for the checks and the evidence. Their inspect shape carries the argv the
 * certificate checks read.
 */
async function containerdPods(t: Transport, inv: Inventory, h: Host, mine: Component[], rep: HostReport) {
  if (!rep.facts?.runtimeVersion) return
  const rt = runtimeFor(inv, h.name)
  for (const c of mine) {
    const container = POD_CONTAINER[c]
    const list = await rt.containers(t, container, 'kube-system')
    for (const x of list) {
      const pod = x.Config?.Labels?.['io.kubernetes.pod.name'] ?? 'unknown'
      rep.facts.containers.push({ id: x.Id, name: `k8s_${container}_${pod}_${x.Id.slice(0, 12)}`, state: x.State?.Status ?? 'unknown', status: x.State?.Status ?? 'unknown', image: x.Image ?? '' })
    }
    const found = list.find((x) => x.State?.Running) ?? list[0]
    if (found) rep.inspects[c] = found
  }
}

const errorOf = (e: DrError) => ({ code: e.code, message: e.message, hint: e.hint })

export async function collectHosts(conns: Connections, inv: Inventory, names = Object.keys(inv.hosts)): Promise<HostReport[]> {
  // conns.map limits the fan-out to ssh.concurrency; each host's work is one task.
  const out = await conns.map(names, (t, h) => collectHost(inv, t, h))
  return out.map((o, i) => o.value ?? { host: names[i], error: errorOf(o.error!), inspects: {}, certs: [], durationMs: 0 })
}

export async function collectCluster(conns: Connections, inv: Inventory, want: { etcd: boolean; kube: boolean }, hosts: HostReport[]): Promise<ClusterReport> {
  const rep: ClusterReport = { readyz: {} }
  const reached = new Set(hosts.filter((h) => !h.error).map((h) => h.host))
  const tasks: Promise<void>[] = []
  if (want.etcd) {
    tasks.push(
      (async () => {
        const [{ probeCluster }, { connectMember }, { AlarmAction }] = await Promise.all([import('../etcd/status.ts'), import('../etcd/client.ts'), import('etcd3')])
        rep.etcd = await probeCluster(conns, inv, { timeoutMs: 3000 })
        // A member's first call carries the set-up of its tunnel, TLS and gRPC: on a loaded machine that alone can
        // pass 3 s (CI once saw a healthy member of a fresh lab called unreachable). A time-out is not proof, so the
        // cluster is asked once more, with 10 s, before a member that timed out is reported.
        if (rep.etcd.members.some((m) => m.error === 'timed out')) rep.etcd = await probeCluster(conns, inv, { timeoutMs: 10_000 })
        const via = rep.etcd.members.find((m) => m.quorumRead)?.host ?? rep.etcd.members.find((m) => m.reachable)?.host
        if (!via) return
        // A fresh connection (tunnel, TLS, gRPC) for one call: under load its set-up alone took over 3 s on the lab.
        const m = await connectMember(conns, inv, via, { callTimeoutMs: 10_000 })
        try {
          const a = await m.client.maintenance.alarm({ action: AlarmAction.Get })
          rep.alarms = a.alarms.map((x) => ({ memberID: BigInt(x.memberID).toString(16), alarm: String(x.alarm) }))
        } catch (e) {
          rep.alarmsError = (e as Error).message.split('\n')[0]
        } finally {
          await m.close()
        }
      })(),
    )
  }
  if (want.kube && inv.kubernetes.kubeconfig) {
    const cps = hostsWithRole(inv, 'controlplane').map((h) => h.name).filter((h) => reached.has(h))
    tasks.push(
      (async () => {
        const { connectKube, getHealth } = await import('../kube/client.ts')
        await Promise.all(
          cps.map(async (h) => {
            try {
              const k = await connectKube(conns, inv, h)
              try {
                rep.readyz[h] = await getHealth(k.kc, '/readyz', 10_000)
                if (rep.readyz[h].status === 200 && !rep.nodes) {
                  rep.nodes = [] // claim: one list is enough
                  try {
                    rep.nodes = (await k.api.listNode()).items
                  } catch (e) {
                    rep.nodes = undefined
                    rep.nodesError = (e as Error).message.split('\n')[0]
                  }
                }
              } finally {
                await k.close()
              }
            } catch (e) {
              rep.readyz[h] = { status: 0, body: (e as Error).message.split('\n')[0] }
            }
          }),
        )
        if (!rep.nodes && !rep.nodesError) rep.nodesError = 'no kube-apiserver was ready to list the Nodes'
      })(),
    )
  }
  await Promise.all(tasks)
  return rep
}
