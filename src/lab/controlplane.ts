// The control plane inside each node, shaped the way RKE shapes it (seed 003): `etcd` from `docker run` with
// the image's entrypoint overridden by a command (Path=/usr/local/bin/etcd, Args=[flags]); `kube-apiserver`
// and `kubelet` created through the Engine API with the whole command in Entrypoint and Cmd empty — the
// docker CLI cannot express that, which is why dr must be exact about it (issue 4).
import { controlplaneNodes, etcdNodes, ipDashes, type LabNode, type LabPlan } from './topology.ts'

export const SSL = '/etc/kubernetes/ssl'
export const ETCD_CLIENT_PORT = 2379
export const ETCD_PEER_PORT = 2380
export const APISERVER_PORT = 6443
/** How stale a Node's heartbeat may get before the stand-in's lifecycle controller marks it Unknown. */
export const NODE_GRACE_SECONDS = 20
/** The Kubernetes version the stand-ins claim and behave as (seed 003's cluster); `lab up --k8s-version` changes it. */
export const DEFAULT_K8S_VERSION = '1.20.5'

export const etcdCert = (n: LabNode) => `${SSL}/kube-etcd-${ipDashes(n.ip)}.pem`
export const etcdKey = (n: LabNode) => `${SSL}/kube-etcd-${ipDashes(n.ip)}-key.pem`

export function initialCluster(plan: LabPlan): string {
  return etcdNodes(plan).map((n) => `etcd-${n.name}=https://${n.ip}:${ETCD_PEER_PORT}`).join(',')
}

export function etcdServers(plan: LabPlan): string {
  return etcdNodes(plan).map((n) => `https://${n.ip}:${ETCD_CLIENT_PORT}`).join(',')
}

/** `docker run` arguments (after `docker`) for a member, in the order RKE's inspect shows them. */
export function etcdRunArgs(plan: LabPlan, node: LabNode, image: string): string[] {
  return [
    'run', '--detach=true', '--name=etcd',
    '--env=ETCDCTL_API=3',
    `--env=ETCDCTL_CACERT=${SSL}/kube-ca.pem`,
    `--env=ETCDCTL_CERT=${etcdCert(node)}`,
    `--env=ETCDCTL_KEY=${etcdKey(node)}`,
    `--env=ETCDCTL_ENDPOINTS=https://127.0.0.1:${ETCD_CLIENT_PORT}`,
    '--env=ETCD_UNSUPPORTED_ARCH=x86_64',
    '--volume=/var/lib/etcd:/var/lib/rancher/etcd/:z',
    '--volume=/etc/kubernetes:/etc/kubernetes:z',
    '--network=host', '--restart=always',
    '--label=io.rancher.rke.container.name=etcd',
    image,
    '/usr/local/bin/etcd',
    `--listen-client-urls=https://0.0.0.0:${ETCD_CLIENT_PORT}`,
    `--initial-advertise-peer-urls=https://${node.ip}:${ETCD_PEER_PORT}`,
    '--initial-cluster-state=new',
    `--trusted-ca-file=${SSL}/kube-ca.pem`,
    `--peer-key-file=${etcdKey(node)}`,
    `--advertise-client-urls=https://${node.ip}:${ETCD_CLIENT_PORT}`,
    '--initial-cluster-token=etcd-cluster-1',
    `--listen-peer-urls=https://0.0.0.0:${ETCD_PEER_PORT}`,
    `--initial-cluster=${initialCluster(plan)}`,
    `--peer-trusted-ca-file=${SSL}/kube-ca.pem`,
    `--key-file=${etcdKey(node)}`,
    '--election-timeout=5000',
    '--heartbeat-interval=500',
    '--data-dir=/var/lib/rancher/etcd/',
    '--client-cert-auth=true',
    '--peer-client-cert-auth=true',
    `--name=etcd-${node.name}`,
    `--cert-file=${etcdCert(node)}`,
    `--peer-cert-file=${etcdCert(node)}`,
    '--enable-v2=true',
  ]
}

/** An Engine API `POST /containers/create` body. */
export interface CreateBody {
  Image: string
  Entrypoint: string[]
  Cmd: null
  Env: string[]
  Labels: Record<string, string>
  HostConfig: { NetworkMode: string; RestartPolicy: { Name: string }; Binds: string[] }
}

function rkeShaped(name: string, image: string, command: string[], k8sVersion = DEFAULT_K8S_VERSION): CreateBody {
  return {
    Image: image,
    Entrypoint: ['/opt/rke-tools/entrypoint.sh', ...command],
    Cmd: null,
    // Read by the stand-ins only (src/lab/fixture): the version they report and behave as.
    Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `DR_LAB_K8S_VERSION=${k8sVersion}`],
    Labels: { 'io.rancher.rke.container.name': name },
    HostConfig: { NetworkMode: 'host', RestartPolicy: { Name: 'always' }, Binds: ['/etc/kubernetes:/etc/kubernetes:z'] },
  }
}

export function apiserverBody(plan: LabPlan, node: LabNode, image: string, k8sVersion?: string): CreateBody {
  return rkeShaped('kube-apiserver', image, [
    'kube-apiserver',
    `--advertise-address=${node.ip}`,
    '--bind-address=0.0.0.0',
    `--secure-port=${APISERVER_PORT}`,
    `--etcd-servers=${etcdServers(plan)}`,
    `--etcd-cafile=${SSL}/kube-ca.pem`,
    `--etcd-certfile=${SSL}/kube-node.pem`,
    `--etcd-keyfile=${SSL}/kube-node-key.pem`,
    '--etcd-prefix=/registry',
    `--client-ca-file=${SSL}/kube-ca.pem`,
    `--tls-cert-file=${SSL}/kube-apiserver.pem`,
    `--tls-private-key-file=${SSL}/kube-apiserver-key.pem`,
    '--service-cluster-ip-range=10.43.0.0/16',
    // The stand-in also runs the node lifecycle controller (kube-controller-manager's flag name).
    `--node-monitor-grace-period=${NODE_GRACE_SECONDS}s`,
  ], k8sVersion)
}

/**
 * The apiservers a node's kubelet talks to: a controlplane node its own first, a worker every controlplane
 * node in order (what RKE's nginx-proxy on workers does).
 */
export function kubeletApiservers(plan: LabPlan, node: LabNode): string[] {
  const cps = controlplaneNodes(plan)
  const ordered = node.roles.includes('controlplane') ? [node, ...cps.filter((n) => n !== node)] : cps
  return ordered.map((n) => `https://${n.ip}:${APISERVER_PORT}`)
}

export function podCidr(plan: LabPlan, node: LabNode): string {
  return `10.42.${plan.nodes.indexOf(node)}.0/24`
}

export function kubeletBody(plan: LabPlan, node: LabNode, image: string, k8sVersion?: string): CreateBody {
  return rkeShaped('kubelet', image, [
    'kubelet',
    `--hostname-override=${node.name}`,
    `--node-ip=${node.ip}`,
    `--node-labels=${node.roles.map((r) => `node-role.kubernetes.io/${r}=true`).join(',')}`,
    `--pod-cidr=${podCidr(plan, node)}`,
    `--apiservers=${kubeletApiservers(plan, node).join(',')}`,
    `--client-ca-file=${SSL}/kube-ca.pem`,
    `--tls-cert-file=${SSL}/kube-node.pem`,
    `--tls-private-key-file=${SSL}/kube-node-key.pem`,
    '--node-status-update-frequency=5s',
  ], k8sVersion)
}
