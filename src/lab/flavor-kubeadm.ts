// The kubeadm flavor of the lab: the control plane as kubeadm lays it out — static pod manifests
// /etc/kubernetes/manifests/{etcd,kube-apiserver}.yaml with kubeadm's flags and paths (/etc/kubernetes/pki/…,
// data in /var/lib/etcd) — run by the lab's kubelet stand-in (fixture/static-pod-agent.mjs) in a `kubelet`
// container with the node's docker socket. Differences from a real kubeadm cluster, on purpose: every member starts
// with the full --initial-cluster (kubeadm joins them one at a time), one lab CA stands for kubeadm's cluster and
// etcd CAs, images are the lab's own, and there is no pause container.
import fsp from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import YAML from 'yaml'
import { DrError } from '../core/error.ts'
import type { Output } from '../core/output.ts'
import { apiClient, readyz, type ApiClient } from './api.ts'
import { kubeadmLayout } from './certs.ts'
import { APISERVER_PORT, DEFAULT_K8S_VERSION, ETCD_CLIENT_PORT, ETCD_PEER_PORT, kubeletApiservers, podCidr, type CreateBody } from './controlplane.ts'
import { docker, dockerExec } from './docker.ts'
import type { LabImages } from './images.ts'
import { innerContainers, innerCreateAndStart } from './inner-docker.ts'
import { copyInto } from './nodes.ts'
import { waitFor } from './wait-for.ts'
import { controlplaneNodes, etcdNodes, type LabNode, type LabPlan } from './topology.ts'

export const MANIFESTS = '/etc/kubernetes/manifests'
export const PKI = '/etc/kubernetes/pki'

const hostPath = (name: string, p: string) => ({ hostPath: { path: p, type: 'DirectoryOrCreate' }, name })

export function kubeadmInitialCluster(plan: LabPlan): string {
  return etcdNodes(plan).map((n) => `${n.name}=https://${n.ip}:${ETCD_PEER_PORT}`).join(',')
}

/** /etc/kubernetes/manifests/etcd.yaml as `kubeadm init phase etcd local` writes it (1.20), for a lab member. */
export function etcdManifest(plan: LabPlan, node: LabNode, image: string): string {
  const ip = node.ip
  const probe = (failureThreshold: number) => ({
    failureThreshold,
    httpGet: { host: '127.0.0.1', path: '/health', port: 2381, scheme: 'HTTP' },
    initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 15,
  })
  return render({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      annotations: { 'kubeadm.kubernetes.io/etcd.advertise-client-urls': `https://${ip}:${ETCD_CLIENT_PORT}` },
      creationTimestamp: null,
      labels: { component: 'etcd', tier: 'control-plane' },
      name: 'etcd',
      namespace: 'kube-system',
    },
    spec: {
      containers: [{
        command: [
          'etcd',
          `--advertise-client-urls=https://${ip}:${ETCD_CLIENT_PORT}`,
          `--cert-file=${PKI}/etcd/server.crt`,
          '--client-cert-auth=true',
          '--data-dir=/var/lib/etcd',
          // The lab's members are slower to elect than kubeadm's defaults assume on a shared machine.
          '--election-timeout=5000',
          '--heartbeat-interval=500',
          `--initial-advertise-peer-urls=https://${ip}:${ETCD_PEER_PORT}`,
          `--initial-cluster=${kubeadmInitialCluster(plan)}`,
          '--initial-cluster-state=new',
          `--key-file=${PKI}/etcd/server.key`,
          `--listen-client-urls=https://127.0.0.1:${ETCD_CLIENT_PORT},https://${ip}:${ETCD_CLIENT_PORT}`,
          '--listen-metrics-urls=http://127.0.0.1:2381',
          `--listen-peer-urls=https://${ip}:${ETCD_PEER_PORT}`,
          `--name=${node.name}`,
          `--peer-cert-file=${PKI}/etcd/peer.crt`,
          '--peer-client-cert-auth=true',
          `--peer-key-file=${PKI}/etcd/peer.key`,
          `--peer-trusted-ca-file=${PKI}/etcd/ca.crt`,
          '--snapshot-count=10000',
          `--trusted-ca-file=${PKI}/etcd/ca.crt`,
        ],
        image,
        imagePullPolicy: 'IfNotPresent',
        livenessProbe: probe(8),
        name: 'etcd',
        resources: { requests: { cpu: '100m', 'ephemeral-storage': '100Mi', memory: '100Mi' } },
        startupProbe: probe(24),
        volumeMounts: [{ mountPath: '/var/lib/etcd', name: 'etcd-data' }, { mountPath: `${PKI}/etcd`, name: 'etcd-certs' }],
      }],
      hostNetwork: true,
      priorityClassName: 'system-node-critical',
      volumes: [hostPath('etcd-certs', `${PKI}/etcd`), hostPath('etcd-data', '/var/lib/etcd')],
    },
    status: {},
  })
}

/** /etc/kubernetes/manifests/kube-apiserver.yaml as kubeadm writes it (1.20): its own local etcd member only. */
export function apiserverManifest(plan: LabPlan, node: LabNode, image: string): string {
  const probe = (p: string, failureThreshold: number, extra: object = { initialDelaySeconds: 10 }) => ({
    failureThreshold, httpGet: { host: node.ip, path: p, port: APISERVER_PORT, scheme: 'HTTPS' }, ...extra, periodSeconds: p === '/readyz' ? 1 : 10, timeoutSeconds: 15,
  })
  const certs = (name: string, p: string) => ({ mountPath: p, name, readOnly: true })
  return render({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      annotations: { 'kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint': `${node.ip}:${APISERVER_PORT}` },
      creationTimestamp: null,
      labels: { component: 'kube-apiserver', tier: 'control-plane' },
      name: 'kube-apiserver',
      namespace: 'kube-system',
    },
    spec: {
      containers: [{
        command: [
          'kube-apiserver',
          `--advertise-address=${node.ip}`,
          '--allow-privileged=true',
          '--authorization-mode=Node,RBAC',
          `--client-ca-file=${PKI}/ca.crt`,
          '--enable-admission-plugins=NodeRestriction',
          '--enable-bootstrap-token-auth=true',
          `--etcd-cafile=${PKI}/etcd/ca.crt`,
          `--etcd-certfile=${PKI}/apiserver-etcd-client.crt`,
          `--etcd-keyfile=${PKI}/apiserver-etcd-client.key`,
          `--etcd-servers=https://127.0.0.1:${ETCD_CLIENT_PORT}`,
          '--insecure-port=0',
          '--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname',
          `--secure-port=${APISERVER_PORT}`,
          '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
          '--service-cluster-ip-range=10.96.0.0/12',
          `--tls-cert-file=${PKI}/apiserver.crt`,
          `--tls-private-key-file=${PKI}/apiserver.key`,
        ],
        image,
        imagePullPolicy: 'IfNotPresent',
        livenessProbe: probe('/livez', 8),
        name: 'kube-apiserver',
        readinessProbe: probe('/readyz', 3, {}),
        resources: { requests: { cpu: '250m' } },
        startupProbe: probe('/livez', 24),
        volumeMounts: [certs('ca-certs', '/etc/ssl/certs'), certs('k8s-certs', PKI)],
      }],
      hostNetwork: true,
      priorityClassName: 'system-node-critical',
      volumes: [hostPath('ca-certs', '/etc/ssl/certs'), hostPath('k8s-certs', PKI)],
    },
    status: {},
  })
}

// kubeadm's manifests: block sequences not indented under their key.
const render = (o: unknown) => YAML.stringify(o, { indentSeq: false, lineWidth: 0 })

/** The kubelet stand-in: static pods from /etc/kubernetes/manifests through the node's docker, plus heartbeats. */
export function kubeadmKubeletBody(plan: LabPlan, node: LabNode, image: string): CreateBody {
  const roles = node.roles.includes('controlplane') ? ['node-role.kubernetes.io/control-plane=', 'node-role.kubernetes.io/master='] : []
  return {
    Image: image,
    Entrypoint: [
      '/usr/bin/node', '/opt/dr-lab/static-pod-agent.mjs',
      `--pod-manifest-path=${MANIFESTS}`,
      `--hostname-override=${node.name}`,
      `--node-ip=${node.ip}`,
      `--node-labels=${roles.join(',')}`,
      `--pod-cidr=${podCidr(plan, node)}`,
      `--apiservers=${kubeletApiservers(plan, node).join(',')}`,
      `--client-ca-file=${PKI}/ca.crt`,
      '--tls-cert-file=/var/lib/kubelet/pki/kubelet-client.crt',
      '--tls-private-key-file=/var/lib/kubelet/pki/kubelet-client.key',
      '--node-status-update-frequency=5s',
    ],
    Cmd: null,
    Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
    Labels: { 'dr.lab.fixture': 'kubelet' },
    HostConfig: {
      NetworkMode: 'host',
      RestartPolicy: { Name: 'always' },
      Binds: ['/etc/kubernetes:/etc/kubernetes', '/var/lib/kubelet:/var/lib/kubelet', '/var/run/docker.sock:/var/run/docker.sock'],
    },
  }
}

/** Copy a node's kubeadm PKI into place (private keys 0600, like kubeadm). */
export async function installKubeadmPki(plan: LabPlan, node: LabNode, pkiDir: string): Promise<void> {
  const stage = await fsp.mkdtemp(path.join(os.tmpdir(), `dr-lab-${node.name}-`))
  try {
    const layout = kubeadmLayout(plan, node)
    for (const [dest, src] of layout) {
      await fsp.mkdir(path.join(stage, path.dirname(dest)), { recursive: true })
      await fsp.copyFile(path.join(pkiDir, src), path.join(stage, dest))
      await fsp.chmod(path.join(stage, dest), dest.endsWith('.key') ? 0o600 : 0o644)
    }
    await copyInto(node, stage, layout.map(([d]) => d), '/')
  } finally {
    await fsp.rm(stage, { recursive: true, force: true })
  }
}

/** Write a manifest on a node the way an operator's editor should: a temporary file, then a rename into place. */
export async function putManifest(node: LabNode, name: string, text: string) {
  const tmp = `/etc/kubernetes/.${name}.yaml.tmp`
  await dockerExec(node.container, ['sh', '-c', `mkdir -p ${MANIFESTS} && cat > ${tmp} && chmod 600 ${tmp} && mv -f ${tmp} ${MANIFESTS}/${name}.yaml`], { input: text, doing: `write ${MANIFESTS}/${name}.yaml on ${node.name}` })
}


/** etcdctl in the node's etcd pod container, with kubeadm's certificates given as flags (no ETCDCTL_* there). */
export function podEtcdctl(args: string[]): string[] {
  return ['sh', '-c', `exec docker exec "$(docker ps -q --filter label=io.kubernetes.container.name=etcd --filter status=running | head -n1)" etcdctl --endpoints=https://127.0.0.1:${ETCD_CLIENT_PORT} --cacert=${PKI}/etcd/ca.crt --cert=${PKI}/etcd/server.crt --key=${PKI}/etcd/server.key "$@"`, 'etcdctl', ...args]
}


/** What a static-pod flavor's nodes do their own way at start (kubeadm: the stand-in in the node's docker; kind: on containerd). */
export interface StaticPodNodes {
  /** How the pods run, for the progress line ("static pods", "static pods on containerd"). */
  runs: string
  /** Start the kubelet stand-in on the node unless it runs already. */
  ensureKubelet(n: LabNode): Promise<void>
  /** etcdctl against the node's own member, as a command run in the node. */
  etcdctl(args: string[]): string[]
  /** The last lines of the kubelet stand-in's log. */
  kubeletLog(n: LabNode): Promise<string>
  /** Where to look when the node's pods do not come up. */
  hint(n: LabNode): string
}

/** A static-pod control plane: PKI, manifests, the kubelet stand-in; waits for etcd and the apiservers. */
export async function startStaticPodControlPlane(plan: LabPlan, images: LabImages, pkiDir: string, out: Output, nodes: StaticPodNodes): Promise<void> {
  await Promise.all(plan.nodes.map((n) => installKubeadmPki(plan, n, pkiDir)))
  await Promise.all(
    plan.nodes.map(async (n) => {
      const have = await dockerExec(n.container, ['ls', MANIFESTS], { nothrow: true })
      if (n.roles.includes('etcd') && !have.stdout.includes('etcd.yaml')) await putManifest(n, 'etcd', etcdManifest(plan, n, images.etcd))
      if (n.roles.includes('controlplane') && !have.stdout.includes('kube-apiserver.yaml')) await putManifest(n, 'kube-apiserver', apiserverManifest(plan, n, images.hyperkube))
      await nodes.ensureKubelet(n)
    }),
  )
  for (const n of etcdNodes(plan)) {
    await waitFor(
      `etcd on ${n.name} did not become healthy`,
      120_000,
      async () => {
        const r = await dockerExec(n.container, nodes.etcdctl(['--command-timeout=3s', 'endpoint', 'health']), { nothrow: true, timeoutMs: 15_000 })
        return r.ok && /is healthy/.test(r.stdout + r.stderr)
      },
      () => nodes.kubeletLog(n),
      nodes.hint(n),
    )
  }
  out.progress(`etcd healthy on ${etcdNodes(plan).length} members (${nodes.runs}); waiting for the kube-apiserver pods`)
  for (const n of controlplaneNodes(plan)) {
    await waitFor(
      `kube-apiserver on ${n.name} did not become ready`,
      90_000,
      async () => (await readyz(pkiDir, n.ip)).ok,
      async () => (await readyz(pkiDir, n.ip)).text + '\n' + (await nodes.kubeletLog(n)),
      nodes.hint(n),
    )
  }
}

/** The kubeadm control plane (the stand-in a container of the node's docker), then kubeadm's own record. */
export async function startKubeadmControlPlane(plan: LabPlan, images: LabImages, pkiDir: string, out: Output): Promise<void> {
  await startStaticPodControlPlane(plan, images, pkiDir, out, {
    runs: 'static pods',
    async ensureKubelet(n) {
      if (!(await innerContainers(n)).has('kubelet')) await innerCreateAndStart(n, 'kubelet', kubeadmKubeletBody(plan, n, images.hyperkube))
    },
    etcdctl: podEtcdctl,
    kubeletLog: async (n) => (await docker(['exec', n.container, 'docker', 'logs', '--tail', '15', 'kubelet'], { nothrow: true })).stdout,
    hint: (n) => `look at \`dr lab ssh ${n.name} docker logs kubelet\` (the static-pod agent's log) and \`docker ps -a\` there`,
  })
  await uploadKubeadmConfig(plan, pkiDir)
}

// ---- kubeadm's own record: kube-system/kubeadm-config -------------------------------------------------------
const KUBEADM_CONFIG = '/api/v1/namespaces/kube-system/configmaps/kubeadm-config'
// kubeadm marshals its config objects through JSON into YAML (sigs.k8s.io/yaml): keys sorted, block sequences not indented.
const marshal = (o: unknown) => YAML.stringify(o, { sortMapEntries: true, indentSeq: false, lineWidth: 0 })

/** The ClusterConfiguration `kubeadm init` (1.20, defaults, this lab's flags) uploads; ClusterStatus up to 1.21. */
export function kubeadmConfigData(plan: LabPlan, endpoints: LabNode[], k8sVersion = DEFAULT_K8S_VERSION): Record<string, string> {
  const minor = Number(k8sVersion.split('.')[1])
  const apiVersion = minor >= 22 ? 'kubeadm.k8s.io/v1beta3' : 'kubeadm.k8s.io/v1beta2'
  const clusterConfiguration = marshal({
    apiServer: { extraArgs: { 'authorization-mode': 'Node,RBAC' }, timeoutForControlPlane: '4m0s' },
    apiVersion,
    certificatesDir: PKI,
    clusterName: 'kubernetes',
    // More than one control-plane node needs a stable endpoint; the lab has no load balancer: the first one's (as its kubeconfig).
    controlPlaneEndpoint: `${controlplaneNodes(plan)[0].ip}:${APISERVER_PORT}`,
    controllerManager: {},
    dns: { type: 'CoreDNS' },
    etcd: { local: { dataDir: '/var/lib/etcd', extraArgs: { 'election-timeout': '5000', 'heartbeat-interval': '500' } } },
    imageRepository: 'k8s.gcr.io',
    kind: 'ClusterConfiguration',
    kubernetesVersion: `v${k8sVersion}`,
    networking: { dnsDomain: 'cluster.local', podSubnet: '10.42.0.0/16', serviceSubnet: '10.96.0.0/12' },
    scheduler: {},
  })
  if (minor >= 22) return { ClusterConfiguration: clusterConfiguration }
  const apiEndpoints = Object.fromEntries(endpoints.map((n) => [n.name, { advertiseAddress: n.ip, bindPort: APISERVER_PORT }]))
  return { ClusterConfiguration: clusterConfiguration, ClusterStatus: marshal({ apiEndpoints, apiVersion, kind: 'ClusterStatus' }) }
}

/**
 * kube-system/kubeadm-config as kubeadm 1.20 leaves it (phases/uploadconfig): `kubeadm init` on the first
 * control-plane node creates it with its own API endpoint; each `kubeadm join --control-plane` then reads it, adds
 * its endpoint and writes it back with the resourceVersion it read (again on a 409 Conflict). A lab brought up
 * again keeps the one it has: kubeadm writes it only when a node joins.
 */
async function uploadKubeadmConfig(plan: LabPlan, pkiDir: string): Promise<void> {
  const cps = controlplaneNodes(plan)
  const api = apiClient(pkiDir, cps[0].ip)
  const failed = (what: string, r: { code: number; body: unknown }) =>
    new DrError({ code: 'lab.kubeadm-config-failed', message: `could not ${what} kube-system/kubeadm-config: ${r.code}`, stderr: JSON.stringify(r.body), hint: `look at \`dr lab ssh ${cps[0].name} docker logs kubelet\` and the apiserver pod's log` })
  const have = await api.request('GET', KUBEADM_CONFIG)
  if (have.code === 200) return
  if (have.code !== 404) throw failed('read', have)
  for (const node of cps) {
    const created = await api.request('POST', '/api/v1/namespaces/kube-system/configmaps', {
      apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kubeadm-config', namespace: 'kube-system' }, data: kubeadmConfigData(plan, [node]),
    })
    if (created.code === 201) continue
    if (created.code !== 409) throw failed('create', created)
    await joinControlPlane(api, plan, node, failed)
  }
}

/** `kubeadm join --control-plane`'s mutation: this node's endpoint set in ClusterStatus, read-modify-write. */
async function joinControlPlane(api: ApiClient, plan: LabPlan, node: LabNode, failed: (what: string, r: { code: number; body: unknown }) => DrError) {
  for (let attempt = 0; attempt < 5; attempt++) {
    const cur = await api.request('GET', KUBEADM_CONFIG)
    if (cur.code !== 200) throw failed('read', cur)
    const data = { ...cur.body.data, ...kubeadmConfigData(plan, [node]) }
    if (cur.body.data?.ClusterStatus) {
      const status = YAML.parse(cur.body.data.ClusterStatus) as { apiEndpoints: Record<string, unknown> }
      status.apiEndpoints[node.name] = { advertiseAddress: node.ip, bindPort: APISERVER_PORT }
      data.ClusterStatus = marshal(status)
    }
    const put = await api.request('PUT', KUBEADM_CONFIG, { ...cur.body, data })
    if (put.code === 200) return
    if (put.code !== 409) throw failed('update', put)
  }
  throw failed('update (five conflicts in a row)', { code: 409, body: '' })
}
