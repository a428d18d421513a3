// `dr lab up`: build what is missing, in order — images, network, nodes, PKI, etcd, apiservers, kubelets,
// sample pods, inventory. Every step looks before it acts, so a second `up` of a running lab changes nothing.
import fs from 'node:fs'
import { DrError } from '../core/error.ts'
import type { Output } from '../core/output.ts'
import { apiClient, readyz } from './api.ts'
import { boundingCaps } from './caps.ts'
import { filesForNode, ensurePki } from './certs.ts'
import { apiserverBody, etcdRunArgs, kubeletBody } from './controlplane.ts'
import { docker, dockerError, requireEngine } from './docker.ts'
import { loadKindImages, runKindNode, startKindControlPlane } from './flavor-kind.ts'
import { startKubeadmControlPlane } from './flavor-kubeadm.ts'
import { ensureImages, saveInnerTar, type LabImages } from './images.ts'
import { etcdHealthy, innerContainers, innerCreateAndStart, innerRun } from './inner-docker.ts'
import { ensureAgeIdentity, ensureSshKey, labFiles, offsiteNode, writeLabFiles, type LabFiles } from './inventory-writer.ts'
import {
  addLoginUser, authorizeKey, copyInto, createNetwork, existingSpec, hostKey, innerImageLoaded, listNodeContainers, loadImages, runNode, waitForNode,
} from './nodes.ts'
import { waitFor } from './wait-for.ts'
import {
  controlplaneNodes, etcdNodes, flavorOf, freeSubnet, networkName, planLab, subnetFor, type LabFlavor, type LabNode, type LabPlan, type LabSpec,
} from './topology.ts'

const secs = (t0: number) => `${((Date.now() - t0) / 1000).toFixed(1)} s`

export interface UpResult {
  plan: LabPlan
  files: LabFiles
  /** Nothing needed doing. */
  unchanged: boolean
  seconds: number
}

export interface UpOptions {
  name: string
  sites: LabSpec['sites']
  workers: number
  /** Unset: the lab's usual /24 (172.30.0.0/24 for "lab"), or the next free one. */
  subnet?: string
  /** Unset: rke. */
  flavor?: LabFlavor
  /** Log in as this unprivileged user with passwordless sudo (inventory `ssh.user`, `ssh.sudo: true`), not root. */
  sshUser?: string
  /** The Kubernetes version the stand-ins claim and behave as (default DEFAULT_K8S_VERSION). */
  k8sVersion?: string
}

const sameSpec = (a: LabSpec, b: UpOptions) =>
  (b.subnet === undefined || a.subnet === b.subnet) && a.workers === b.workers && JSON.stringify(a.sites) === JSON.stringify(b.sites) &&
  flavorOf(a) === flavorOf(b)

export async function labUp(opts: UpOptions, out: Output): Promise<UpResult> {
  const t0 = Date.now()
  if (opts.flavor === 'kind' && opts.sshUser) {
    throw new DrError({ code: 'lab.kind-no-ssh', message: 'a kind-flavor lab has no SSH (dr reaches its nodes with docker exec): --ssh-user does not apply', hint: 'leave out --ssh-user, or use --flavor kubeadm', exit: 'usage' })
  }
  await requireEngine()
  const existing = await existingSpec(opts.name, networkName(opts.name))
  const subnet = existing?.subnet ?? opts.subnet ?? freeSubnet(subnetFor(opts.name), await dockerSubnets())
  const spec: LabSpec = { name: opts.name, ...(opts.flavor && opts.flavor !== 'rke' ? { flavor: opts.flavor } : {}), sites: opts.sites, workers: opts.workers, subnet }
  let plan = planLab(spec)
  const files = labFiles(plan.name)
  if (existing && !sameSpec(existing, opts)) {
    throw new DrError({
      code: 'lab.exists-different',
      message: `lab ${plan.name} is already up (flavor ${flavorOf(existing)}) with sites ${existing.sites.map((s) => `${s.name}=${s.masters}`).join(',')}, ${existing.workers} worker(s) per site, ${existing.subnet}`,
      hint: `run \`dr lab down${plan.name === 'lab' ? '' : ` --name ${plan.name}`}\` first, or repeat the same options`,
      exit: 'usage',
    })
  }
  const found = await listNodeContainers(plan.name)
  const missing = plan.nodes.filter((n) => !found.some((c) => c.name === n.name))
  if ((existing || found.length > 0) && missing.length > 0 && missing.length < plan.nodes.length) {
    throw new DrError({
      code: 'lab.partial',
      message: `lab ${plan.name} is only partly there: ${missing.map((n) => n.name).join(', ')} missing`,
      hint: 'run `dr lab down` and then `dr lab up` to start from scratch',
    })
  }
  const stopped = found.filter((c) => c.state !== 'running')
  if (existing && missing.length === 0) {
    // A lab that exists is never "repaired": stopped nodes and replaced containers may be a drill or a failover
    // in progress, and powering a fenced site on behind the operator's back is exactly what dr must not do.
    if (fs.existsSync(files.inventory)) {
      for (const w of await driftFromFresh(plan, found)) out.warn(w)
      return { plan, files, unchanged: true, seconds: (Date.now() - t0) / 1000 }
    }
    if (stopped.length) {
      throw new DrError({
        code: 'lab.nodes-stopped',
        message: `lab ${plan.name} has stopped nodes (${stopped.map((c) => c.name).join(', ')}) and no inventory`,
        hint: `power them on with \`dr lab start-site SITE\` and run \`dr lab up\` again, or \`dr lab down\` to start over`,
      })
    }
  }

  const images = await ensureImages(out)
  if (!existing) {
    // Two labs coming up at once may both have picked the same free /24: the loser takes the next one.
    for (let attempt = 0; ; attempt++) {
      out.progress(`creating network ${plan.network} (${plan.subnet})`)
      try {
        await createNetwork(plan)
        break
      } catch (e) {
        if (attempt >= 5 || opts.subnet || !/overlap/i.test(String((e as DrError).stderr ?? e))) throw e
        plan = planLab({ ...spec, subnet: freeSubnet(subnetFor(opts.name), await dockerSubnets()) })
      }
    }
  }
  if (missing.length) {
    out.progress(`starting ${missing.length} nodes: ${missing.map((n) => `${n.name} (${n.site}, ${n.ip})`).join(', ')}`)
    const caps = boundingCaps()
    const kind = flavorOf(plan) === 'kind'
    await Promise.all(missing.map((n) => (kind ? runKindNode(plan, n, images.node, caps) : runNode(plan, n, images.node, caps))))
  }
  await Promise.all(plan.nodes.map((n) => waitForNode(n)))
  out.progress(`nodes are up (${secs(t0)}): ${flavorOf(plan) === 'kind' ? 'containerd answers' : 'sshd and docker answer'}`)

  const publicKey = await ensureSshKey(files, plan.name)
  const recipient = await ensureAgeIdentity(files)
  await ensurePki(plan, files.pki)
  await Promise.all(
    plan.nodes.map(async (n) => {
      if (flavorOf(plan) !== 'kind') await authorizeKey(n, publicKey)
      if (opts.sshUser) await addLoginUser(n, opts.sshUser, publicKey)
      if (flavorOf(plan) === 'rke') await copyInto(n, files.pki, filesForNode(plan, n), '/etc/kubernetes/ssl')
      if (n === offsiteNode(plan)) await docker(['exec', n.container, 'mkdir', '-p', '/var/backups/dr'])
    }),
  )
  if (flavorOf(plan) === 'kind') await loadKindImages(plan, images, out)
  else await loadInnerImages(plan, images, out)
  out.progress(`images loaded (${secs(t0)}); starting etcd on ${etcdNodes(plan).map((n) => n.name).join(', ')}`)
  if (flavorOf(plan) === 'kubeadm') await startKubeadmControlPlane(plan, images, files.pki, out)
  else if (flavorOf(plan) === 'kind') await startKindControlPlane(plan, images, files.pki, out)
  else await startControlPlane(plan, images, files, out, opts.k8sVersion)
  await waitNodesReady(plan, files)
  out.progress(`control plane ready (${secs(t0)})`)
  await ensureSamplePods(plan, files, out)

  const hostKeys = new Map<string, string>()
  if (flavorOf(plan) !== 'kind') for (const n of plan.nodes) hostKeys.set(n.name, await hostKey(n))
  await writeLabFiles(plan, files, hostKeys, recipient, opts.sshUser)
  return { plan, files, unchanged: false, seconds: (Date.now() - t0) / 1000 }
}

/**
 * The subnets of every docker network. Another lab (the end-to-end files run three at once) may remove a network
 * between the list and the inspect: docker then answers "network … not found" for the whole call, and the list is
 * read again, up to three times. `run` is docker itself; a test passes a docker that removes a network in between.
 */
export async function dockerSubnets(run: typeof docker = docker): Promise<string[]> {
  for (let attempt = 1; ; attempt++) {
    const ids = (await run(['network', 'ls', '-q'])).stdout.split('\n').filter(Boolean)
    if (ids.length === 0) return []
    const r = await run(['network', 'inspect', ...ids], { nothrow: true })
    if (!r.ok && attempt < 3 && NETWORK_GONE.test(r.stderr)) continue
    if (!r.ok) throw dockerError(r, "list the docker networks' subnets")
    const nets = JSON.parse(r.stdout) as Array<{ IPAM?: { Config?: Array<{ Subnet?: string }> } }>
    return nets.flatMap((n) => (n.IPAM?.Config ?? []).map((c) => c.Subnet ?? '')).filter(Boolean)
  }
}

/** docker's answer for a network removed since it was listed (`Error response from daemon: network ID not found`). */
const NETWORK_GONE = /network \S+ not found/

/** How an existing lab differs from a fresh one: stopped nodes, control-plane containers not running. */
async function driftFromFresh(plan: LabPlan, found: Array<{ name: string; state: string }>): Promise<string[]> {
  const out: string[] = []
  const stopped = found.filter((c) => c.state !== 'running').map((c) => c.name)
  if (stopped.length) out.push(`lab ${plan.name}: ${stopped.join(', ')} stopped (\`dr lab start-site SITE\` powers a site on)`)
  // kind: nothing runs in a node's docker (it has none); its pods are containerd's.
  const running = flavorOf(plan) === 'kind' ? [] : plan.nodes.filter((n) => !stopped.includes(n.name))
  const states = await Promise.all(running.map((n) => innerContainers(n)))
  running.forEach((n, i) => {
    for (const c of expectedInner(plan, n)) {
      const st = states[i].get(c) ?? 'missing'
      if (st !== 'running') out.push(`lab ${plan.name}: ${c} on ${n.name} is ${st}`)
    }
  })
  return out
}

function expectedInner(plan: LabPlan, n: LabNode): string[] {
  // kubeadm: the kubelet stand-in; its pods' containers carry kubelet-made names (k8s_…).
  if (flavorOf(plan) === 'kubeadm') return ['kubelet']
  return [...(n.roles.includes('etcd') ? ['etcd'] : []), ...(n.roles.includes('controlplane') ? ['kube-apiserver'] : []), 'kubelet']
}

async function loadInnerImages(plan: LabPlan, images: LabImages, out: Output) {
  const need: LabNode[] = []
  for (const n of plan.nodes) if (!(await innerImageLoaded(n, images.hyperkube))) need.push(n)
  if (need.length === 0) return
  out.progress(`loading the inner images into ${need.map((n) => n.name).join(', ')}`)
  // Two at a time: docker load is disk-bound and a machine of this size does not gain from more.
  const queue = [...need]
  await Promise.all(
    [0, 1].map(async () => {
      for (let n = queue.shift(); n; n = queue.shift()) await loadImages(n, images.innerTar, [images.etcd, images.hyperkube])
    }),
  )
}


async function startControlPlane(plan: LabPlan, images: LabImages, files: LabFiles, out: Output, k8sVersion?: string) {
  const inner = new Map<string, Map<string, string>>()
  for (const n of plan.nodes) inner.set(n.name, await innerContainers(n))
  await Promise.all(
    etcdNodes(plan)
      .filter((n) => !inner.get(n.name)!.has('etcd'))
      .map((n) => innerRun(n, etcdRunArgs(plan, n, images.etcd), `run etcd on ${n.name}`)),
  )
  for (const n of etcdNodes(plan)) {
    await waitFor(
      `etcd on ${n.name} did not become healthy`,
      180_000,
      () => etcdHealthy(n),
      async () => (await docker(['exec', n.container, 'docker', 'logs', '--tail', '15', 'etcd'], { nothrow: true })).stderr,
      `look at \`dr lab ssh ${n.name} docker logs etcd\``,
    )
  }
  out.progress(`etcd healthy on ${etcdNodes(plan).length} members; starting kube-apiserver`)
  await Promise.all(
    controlplaneNodes(plan)
      .filter((n) => !inner.get(n.name)!.has('kube-apiserver'))
      .map((n) => innerCreateAndStart(n, 'kube-apiserver', apiserverBody(plan, n, images.hyperkube, k8sVersion))),
  )
  for (const n of controlplaneNodes(plan)) {
    await waitFor(
      `kube-apiserver on ${n.name} did not become ready`,
      180_000,
      async () => (await readyz(files.pki, n.ip)).ok,
      async () => (await readyz(files.pki, n.ip)).text + '\n' + (await docker(['exec', n.container, 'docker', 'logs', '--tail', '15', 'kube-apiserver'], { nothrow: true })).stdout,
      `look at \`dr lab ssh ${n.name} docker logs kube-apiserver\``,
    )
  }
  await Promise.all(
    plan.nodes
      .filter((n) => !inner.get(n.name)!.has('kubelet'))
      .map((n) => innerCreateAndStart(n, 'kubelet', kubeletBody(plan, n, images.hyperkube, k8sVersion))),
  )
}

async function waitNodesReady(plan: LabPlan, files: LabFiles) {
  const api = apiClient(files.pki, controlplaneNodes(plan)[0].ip)
  let names: string[] = []
  await waitFor(
    'not every node registered Ready',
    // Generous: on a loaded machine the first heartbeats wait for every apiserver's etcd connection.
    180_000,
    async () => {
      const r = await api.request('GET', '/api/v1/nodes').catch(() => undefined)
      const items = (r?.code === 200 ? r.body.items : []) as Array<{ metadata: { name: string }; status?: { conditions?: Array<{ type: string; status: string }> } }>
      names = items.filter((i) => i.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).map((i) => i.metadata.name)
      return plan.nodes.every((n) => names.includes(n.name))
    },
    async () => `Ready: ${names.join(', ') || 'none'}`,
    'look at `dr lab ssh NODE docker logs kubelet` on the missing nodes',
  )
}

/** One "hello-world-<suffix>" pod per node, like seed 003's, tolerating unreachable/not-ready for 300 s. */
export function samplePod(node: LabNode) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'hello-world-', namespace: 'default', labels: { app: 'hello-world' } },
    spec: {
      nodeName: node.name,
      containers: [{ name: 'hello-world', image: 'rancher/hello-world', ports: [{ containerPort: 8080 }] }],
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
    },
  }
}

async function ensureSamplePods(plan: LabPlan, files: LabFiles, out: Output) {
  const api = apiClient(files.pki, controlplaneNodes(plan)[0].ip)
  const r = await api.request('GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dhello-world')
  const have = new Set(((r.body?.items ?? []) as Array<{ spec: { nodeName: string } }>).map((p) => p.spec.nodeName))
  const todo = plan.nodes.filter((n) => !have.has(n.name))
  for (const n of todo) {
    const c = await api.request('POST', '/api/v1/namespaces/default/pods', samplePod(n))
    if (c.code !== 201) throw new DrError({ code: 'lab.sample-pod-failed', message: `could not create the sample pod on ${n.name}: ${c.code}`, stderr: JSON.stringify(c.body) })
  }
  if (todo.length) out.progress(`created ${todo.length} hello-world pods`)
}
