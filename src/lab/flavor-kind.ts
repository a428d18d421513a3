// The kind flavor of the lab (seeds 000/001): kubeadm's static pods, as in the kubeadm flavor, but on nodes shaped
// like kind's — containerd is the only runtime (no dockerd starts in the node), nothing listens for SSH, and dr
// reaches every node with `docker exec` (the inventory's docker-exec transport). The kubelet stand-in
// (fixture/static-pod-agent.mjs with --container-runtime=remote) runs as a process of the node, as kind's kubelet
// is a systemd service of its node, and runs the pods through `ctr -n k8s.io` with the CRI plugin's labels.
// Differences from a real kind node, on purpose: the node image is the lab's Debian one (containerd 1.6 from
// Debian, no systemd: a small init script starts containerd and the stand-in), and the CRI plugin is not used.
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { projectRoot } from '../core/paths.ts'
import { DrError } from '../core/error.ts'
import type { Output } from '../core/output.ts'
import { unknownCapIn } from './caps.ts'
import { ETCD_CLIENT_PORT } from './controlplane.ts'
import { docker, dockerExec } from './docker.ts'
import { kubeadmKubeletBody, PKI, startStaticPodControlPlane } from './flavor-kubeadm.ts'
import type { LabImages } from './images.ts'
import { copyInto, labLabels, nodeRunArgs } from './nodes.ts'
import { dockerVolumeName, type LabNode, type LabPlan } from './topology.ts'

/** Where containerd keeps its state in a kind node: a volume (an overlay snapshotter needs a real filesystem). */
const CONTAINERD_ROOT = '/var/lib/containerd'
/** The stand-in's command-line flags, one per line; the node's init starts it once this file exists. */
const KUBELET_ARGS = '/etc/dr-lab/kubelet.args'
const AGENT_DIR = '/opt/dr-lab'
const FIXTURES = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixture')
const YAML_DIST = path.join(projectRoot, 'node_modules', 'yaml', 'browser', 'dist')

/**
 * PID 2 of a kind node (docker-init is PID 1): what the node's systemd does at boot — containerd, then the kubelet
 * (restarted when it exits, as systemd's Restart=always does). The marker tells `waitForNode` what to wait for.
 */
export const KIND_NODE_INIT = `set -e
touch /etc/dr-lab-kind
mkdir -p /var/log /var/lib/etcd /etc/kubernetes
if [ -s /etc/dr-lab-partition ]; then
  iptables -w -N DR-LAB-PARTITION 2>/dev/null || true
  for c in INPUT OUTPUT FORWARD; do iptables -w -C $c -j DR-LAB-PARTITION 2>/dev/null || iptables -w -I $c 1 -j DR-LAB-PARTITION; done
  for ip in $(cat /etc/dr-lab-partition); do
    iptables -w -A DR-LAB-PARTITION -s "$ip" -j DROP
    iptables -w -A DR-LAB-PARTITION -d "$ip" -j DROP
  done
fi
containerd >>/var/log/containerd.log 2>&1 &
until ctr version >/dev/null 2>&1; do sleep 0.2; done
while :; do
  if [ -s ${KUBELET_ARGS} ]; then node ${AGENT_DIR}/static-pod-agent.mjs $(cat ${KUBELET_ARGS}) >>/var/log/kubelet.log 2>&1 || true; fi
  sleep 2
done`

/** `docker run` arguments of a kind node (pure): a lab node whose volume holds containerd's state, and its init. */
export function kindRunArgs(plan: LabPlan, node: LabNode, image: string, caps: string[]): string[] {
  const args = nodeRunArgs(plan, node, image, caps).map((a) => (a.startsWith('--mount=type=volume,') ? a.replace(/dst=\/var\/lib\/docker$/, `dst=${CONTAINERD_ROOT}`) : a))
  return [...args.slice(0, -1), '--label', 'dr.lab.flavor=kind', image, 'sh', '-c', KIND_NODE_INIT, 'dr-lab-kind-init']
}

/** Create a kind node's volume and container; drops capabilities an older engine does not know, by name. */
export async function runKindNode(plan: LabPlan, node: LabNode, image: string, caps: string[]): Promise<void> {
  await docker(['volume', 'create', ...labLabels(plan), dockerVolumeName(plan.name, node.name)], { doing: `create the volume of ${node.name}` })
  let left = [...caps]
  for (;;) {
    const r = await docker(kindRunArgs(plan, node, image, left), { nothrow: true })
    if (r.ok) return
    const unknown = unknownCapIn(r.stderr)
    if (!unknown || !left.includes(unknown)) {
      await docker(['rm', '-f', node.container], { nothrow: true })
      throw new DrError({ code: 'lab.node-failed', message: `could not start lab node ${node.name}`, host: node.name, command: r.command, stderr: r.stderr.trim() })
    }
    left = left.filter((c) => c !== unknown)
  }
}

/** Is the inner image in the node's containerd (namespace k8s.io, under the name `ctr import` gives it)? */
async function kindImageLoaded(node: LabNode, ref: string): Promise<boolean> {
  const r = await dockerExec(node.container, ['ctr', '-n', 'k8s.io', 'images', 'ls', '-q'], { nothrow: true, timeoutMs: 30_000 })
  return r.ok && r.stdout.split('\n').includes(`docker.io/${ref}`)
}

/** `ctr -n k8s.io images import` of the saved inner images (docker's archive format), as `kind load image-archive`. */
async function importImages(node: LabNode, tarFile: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const fd = fs.openSync(tarFile, 'r')
    const ex = spawn('docker', ['exec', '-i', node.container, 'ctr', '-n', 'k8s.io', 'images', 'import', '-'], { stdio: [fd, 'ignore', 'pipe'] })
    let err = ''
    ex.stderr!.on('data', (d) => (err += d))
    ex.on('close', (code) => {
      fs.closeSync(fd)
      if (code === 0) resolve()
      else reject(new DrError({ code: 'lab.load-failed', message: `ctr images import failed on ${node.name}`, host: node.name, stderr: err }))
    })
  })
}

export async function loadKindImages(plan: LabPlan, images: LabImages, out: Output): Promise<void> {
  const need: LabNode[] = []
  for (const n of plan.nodes) if (!(await kindImageLoaded(n, images.hyperkube))) need.push(n)
  if (need.length === 0) return
  out.progress(`importing the inner images into containerd on ${need.map((n) => n.name).join(', ')}`)
  const queue = [...need]
  await Promise.all(
    [0, 1].map(async () => {
      for (let n = queue.shift(); n; n = queue.shift()) await importImages(n, images.innerTar)
    }),
  )
}

/** The stand-in's flags: the kubeadm flavor's, plus the runtime kind's kubelet is given. */
export function kindKubeletArgs(plan: LabPlan, node: LabNode, image: string): string[] {
  const body = kubeadmKubeletBody(plan, node, image)
  const flags = (body.Entrypoint as string[]).filter((a) => a.startsWith('--'))
  return [...flags, '--container-runtime=remote', '--container-runtime-endpoint=unix:///run/containerd/containerd.sock']
}

/** The stand-in and the fixtures it loads (node-agent.mjs, the yaml parser) into /opt/dr-lab, then its flags. */
async function installAgent(plan: LabPlan, node: LabNode, image: string): Promise<void> {
  const stage = await fsp.mkdtemp(path.join(os.tmpdir(), `dr-lab-${node.name}-agent-`))
  try {
    const files = fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.mjs'))
    for (const f of files) await fsp.copyFile(path.join(FIXTURES, f), path.join(stage, f))
    await fsp.cp(YAML_DIST, path.join(stage, 'yaml'), { recursive: true })
    await fsp.writeFile(path.join(stage, 'yaml', 'package.json'), '{ "type": "module" }\n')
    await copyInto(node, stage, [...files, 'yaml'], AGENT_DIR)
  } finally {
    await fsp.rm(stage, { recursive: true, force: true })
  }
  const args = kindKubeletArgs(plan, node, image).join('\n') + '\n'
  const tmp = `${KUBELET_ARGS}.tmp`
  await dockerExec(node.container, ['sh', '-c', `mkdir -p ${path.posix.dirname(KUBELET_ARGS)} && cat > ${tmp} && mv -f ${tmp} ${KUBELET_ARGS}`], { input: args, doing: `write ${KUBELET_ARGS} on ${node.name}` })
}

/** etcdctl of the node (Debian's etcd-client) against its local member, with kubeadm's server certificate. */
export function kindEtcdctl(args: string[]): string[] {
  return ['etcdctl', `--endpoints=https://127.0.0.1:${ETCD_CLIENT_PORT}`, `--cacert=${PKI}/etcd/ca.crt`, `--cert=${PKI}/etcd/server.crt`, `--key=${PKI}/etcd/server.key`, ...args]
}

const kubeletLog = (n: LabNode) => dockerExec(n.container, ['tail', '-n', '15', '/var/log/kubelet.log'], { nothrow: true }).then((r) => r.stdout + r.stderr)

/** The kind control plane: the kubeadm flavor's static pods, the kubelet stand-in a process of the node on containerd. */
export function startKindControlPlane(plan: LabPlan, images: LabImages, pkiDir: string, out: Output): Promise<void> {
  return startStaticPodControlPlane(plan, images, pkiDir, out, {
    runs: 'static pods on containerd',
    async ensureKubelet(n) {
      if (!(await dockerExec(n.container, ['test', '-s', KUBELET_ARGS], { nothrow: true })).ok) await installAgent(plan, n, images.hyperkube)
    },
    etcdctl: kindEtcdctl,
    kubeletLog,
    hint: (n) => `look at /var/log/kubelet.log (the static-pod agent's log) and \`ctr -n k8s.io tasks ls\` in ${n.container}`,
  })
}
