// Kubernetes through @kubernetes/client-node, reached over an SSH tunnel to one apiserver's secure port.
// Written for the real API: the lab's stand-in only has to be honest about the same requests.
import fs from 'node:fs'
import https from 'node:https'
import type { CoreV1Api, KubeConfig, V1Node, V1Taint } from '@kubernetes/client-node'
import { DrError } from '../core/error.ts'
import { componentOf } from '../component/index.ts'
import { getFlag } from '../container/command-flags.ts'
import type { Inventory } from '../inventory/types.ts'
import type { TransportSource } from '../etcd/client.ts'
import type { Tunnel } from '../transport/types.ts'

export interface KubeConnection {
  host: string
  api: CoreV1Api
  kc: KubeConfig
  /** https://127.0.0.1:<port>, the tunnel's end. */
  server: string
  close(): Promise<void>
}

type ClientNode = typeof import('@kubernetes/client-node')
let clientNode: Promise<ClientNode> | undefined
/**
 * @kubernetes/client-node takes 0.7–2 s to load: it loads on first use, not when dr starts. Never start it "early"
 * beside network calls: its loading blocks the event loop, and a probe's 3 s deadline expired under it (a healthy
 * cluster's members then looked unreachable).
 */
export const loadKubeClient = (): Promise<ClientNode> => (clientNode ??= import('@kubernetes/client-node'))

/** The inventory's kubeconfig, with its server replaced by a tunnel to `hostName`'s apiserver. */
export async function kubeConfigFor(inv: Inventory, server: string): Promise<KubeConfig> {
  const { KubeConfig } = await loadKubeClient()
  if (!inv.kubernetes.kubeconfig || !fs.existsSync(inv.kubernetes.kubeconfig)) {
    throw new DrError({
      code: 'kube.no-kubeconfig',
      message: `no kubeconfig: ${inv.kubernetes.kubeconfig ?? 'kubernetes.kubeconfig is not set in the inventory'}`,
      hint: 'set kubernetes.kubeconfig in the inventory (RKE writes kube_config_cluster.yml beside cluster.yml)',
      exit: 'usage',
    })
  }
  const src = new KubeConfig()
  src.loadFromFile(inv.kubernetes.kubeconfig)
  const cluster = src.getCurrentCluster()
  const user = src.getCurrentUser()
  if (!cluster || !user) {
    throw new DrError({ code: 'kube.bad-kubeconfig', message: `${inv.kubernetes.kubeconfig} has no current context`, exit: 'usage' })
  }
  const kc = new KubeConfig()
  kc.loadFromOptions({
    clusters: [{ ...cluster, name: 'dr', server }],
    users: [{ ...user, name: 'dr' }],
    contexts: [{ name: 'dr', cluster: 'dr', user: 'dr' }],
    currentContext: 'dr',
  })
  return kc
}

export async function connectKube(conns: TransportSource, inv: Inventory, hostName: string): Promise<KubeConnection> {
  const t = await conns.get(hostName)
  const tunnel: Tunnel = await t.forward('127.0.0.1', inv.kubernetes.apiserverPort)
  const server = `https://127.0.0.1:${tunnel.localPort}`
  try {
    const kc = await kubeConfigFor(inv, server)
    const { CoreV1Api } = await loadKubeClient()
    return { host: hostName, kc, server, api: kc.makeApiClient(CoreV1Api), close: () => tunnel.close() }
  } catch (e) {
    await tunnel.close()
    throw e
  }
}

/** GET a health path (/readyz, /livez) with the kubeconfig's credentials; returns the status code and body. */
export async function getHealth(kc: KubeConfig, path: string, timeoutMs = 3000): Promise<{ status: number; body: string }> {
  const server = kc.getCurrentCluster()!.server
  const opts: https.RequestOptions = {}
  await kc.applyToHTTPSOptions(opts)
  return httpsGet(`${server}${path}`, opts, timeoutMs)
}

/** One HTTPS GET whose failure is data: status 0 and the error's message (a probe, not a request that must work). */
function httpsGet(url: string, opts: https.RequestOptions, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = https.request(url, { ...opts, method: 'GET', timeout: timeoutMs }, (res) => {
      let body = ''
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('timeout', () => req.destroy(new Error('timed out')))
    req.on('error', (e) => resolve({ status: 0, body: e.message }))
    req.end()
  })
}

export async function waitReady(kc: KubeConfig, timeoutMs: number, host?: string): Promise<number> {
  const started = Date.now()
  let last = { status: 0, body: '' }
  while (Date.now() - started < timeoutMs) {
    last = await getHealth(kc, '/readyz')
    if (last.status === 200) return Date.now() - started
    await new Promise((r) => setTimeout(r, 500))
  }
  throw new DrError({
    code: 'kube.not-ready',
    message: `kube-apiserver did not become ready within ${Math.round(timeoutMs / 1000)} s (last: ${last.status} ${last.body.slice(0, 120)})`,
    host,
    hint: `look at its log: docker logs --tail 50 kube-apiserver on ${host ?? 'the host'}`,
  })
}

export const OUT_OF_SERVICE: V1Taint = { key: 'node.kubernetes.io/out-of-service', value: 'nodeshutdown', effect: 'NoExecute' }

export const hasTaint = (n: V1Node, taint: V1Taint) =>
  (n.spec?.taints ?? []).some((x) => x.key === taint.key && x.effect === taint.effect && (x.value ?? '') === (taint.value ?? ''))

/** Add a taint with a JSON patch of spec.taints (the whole list, so nothing else is lost). */
export async function addTaint(api: CoreV1Api, node: V1Node, taint: V1Taint): Promise<void> {
  if (hasTaint(node, taint)) return
  const taints = [...(node.spec?.taints ?? []), { ...taint, timeAdded: new Date() }]
  await api.patchNode({ name: node.metadata!.name!, body: [{ op: 'add', path: '/spec/taints', value: taints }] })
}

/** Match a Node to an inventory host: by name, else by an InternalIP address. */
export function nodeForHost(nodes: V1Node[], name: string, address: string): V1Node | undefined {
  return (
    nodes.find((n) => n.metadata?.name === name) ??
    nodes.find((n) => (n.status?.addresses ?? []).some((a) => a.address === address))
  )
}

/**
 * GET /readyz without credentials, through a tunnel to the host's own apiserver port: kube-apiserver lets anyone
 * read its health endpoints (system:public-info-viewer). Without a kubeconfig there is no CA at hand, so the server
 * certificate is checked against the cluster CA the apiserver itself names (`--client-ca-file`; RKE's kube-ca and
 * kubeadm's ca.crt sign its serving certificate too) for the name every apiserver certificate carries, `kubernetes`.
 */
export async function readyzAnonymous(conns: TransportSource, inv: Inventory, hostName: string, timeoutMs = 3000): Promise<{ status: number; body: string }> {
  const t = await conns.get(hostName)
  const state = await componentOf(inv, t, 'kube-apiserver').state()
  const caFile = state && getFlag(state.argv, '--client-ca-file')
  if (!caFile) return { status: 0, body: `kube-apiserver on ${hostName} names no --client-ca-file to check its certificate with` }
  const ca = await t.readFile(caFile)
  const tunnel = await t.forward('127.0.0.1', inv.kubernetes.apiserverPort)
  try {
    return await httpsGet(`https://127.0.0.1:${tunnel.localPort}/readyz`, { ca, servername: 'kubernetes' }, timeoutMs)
  } finally {
    await tunnel.close()
  }
}

export interface ServerVersion {
  major: number
  minor: number
  gitVersion: string
}

/** GET /version: what the apiserver says it is. */
export async function serverVersion(kc: KubeConfig, host?: string): Promise<ServerVersion> {
  const r = await getHealth(kc, '/version', 5000)
  let v: { major?: string; minor?: string; gitVersion?: string } = {}
  try {
    v = JSON.parse(r.body)
  } catch (e) {
    throw new DrError({ code: 'kube.version-unreadable', message: `cannot read the Kubernetes version (${r.status}): ${(e as Error).message}`, host, stderr: r.body.slice(0, 300) })
  }
  // Cloud builds write minor as "26+"; the gitVersion is the most reliable of the three.
  const m = /^v?(\d+)\.(\d+)/.exec(v.gitVersion ?? '') ?? [null, v.major, (v.minor ?? '').replace(/\D+$/, '')]
  const major = Number(m[1])
  const minor = Number(m[2])
  if (r.status !== 200 || !Number.isInteger(major) || !Number.isInteger(minor)) {
    throw new DrError({ code: 'kube.version-unreadable', message: `cannot read the Kubernetes version: /version answered ${r.status}`, host, stderr: r.body.slice(0, 300) })
  }
  return { major, minor, gitVersion: v.gitVersion ?? `v${major}.${minor}` }
}
