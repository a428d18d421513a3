// What an inventory gets when it does not say: per flavor, where etcd keeps its certificates and data.
import type { EtcdSettings, Flavor, KubeSettings, SshSettings } from './types.ts'

export const FLAVORS: readonly Flavor[] = ['rke', 'kubeadm', 'kind']

export const SSH_DEFAULTS: SshSettings = {
  user: 'root',
  port: 22,
  agent: false,
  acceptNewHostKeys: false,
  sudo: false,
  passphraseEnv: 'DR_SSH_PASSPHRASE',
  connectTimeoutMs: 5000,
  commandTimeoutMs: 120_000,
  concurrency: 8,
}

// RKE1 (`rke up`): certificates under /etc/kubernetes/ssl, one per node named by its IP with dashes; etcd is the
// docker container `etcd` with /var/lib/etcd mounted at /var/lib/rancher/etcd.
const RKE_ETCD: EtcdSettings = {
  clientPort: 2379,
  peerPort: 2380,
  caFile: '/etc/kubernetes/ssl/kube-ca.pem',
  certFile: '/etc/kubernetes/ssl/kube-etcd-{ipDashes}.pem',
  keyFile: '/etc/kubernetes/ssl/kube-etcd-{ipDashes}-key.pem',
  dataDir: '/var/lib/etcd',
  container: 'etcd',
}

// kubeadm: etcd is the static pod /etc/kubernetes/manifests/etcd.yaml (its container is named `etcd`).
// healthcheck-client is the client-only certificate kubeadm creates for talking to etcd (`kubeadm init phase certs
// etcd-healthcheck-client`); peer.crt, which kubeadm's HA-etcd guide uses with etcdctl, works too.
const KUBEADM_ETCD: EtcdSettings = {
  clientPort: 2379,
  peerPort: 2380,
  caFile: '/etc/kubernetes/pki/etcd/ca.crt',
  certFile: '/etc/kubernetes/pki/etcd/healthcheck-client.crt',
  keyFile: '/etc/kubernetes/pki/etcd/healthcheck-client.key',
  dataDir: '/var/lib/etcd',
  container: 'etcd',
}

export const ETCD_DEFAULTS: Record<Flavor, EtcdSettings> = { rke: RKE_ETCD, kubeadm: KUBEADM_ETCD, kind: KUBEADM_ETCD }

export const KUBE_DEFAULTS: Record<Flavor, KubeSettings> = {
  rke: { apiserverPort: 6443, apiserverContainer: 'kube-apiserver', kubeletContainer: 'kubelet' },
  kubeadm: { apiserverPort: 6443, apiserverContainer: 'kube-apiserver', kubeletContainer: 'kubelet' },
  kind: { apiserverPort: 6443, apiserverContainer: 'kube-apiserver', kubeletContainer: 'kubelet' },
}

/** kind nodes are containers on this machine, reached with `docker exec`. */
export const DEFAULT_TRANSPORT: Record<Flavor, 'ssh' | 'docker-exec'> = { rke: 'ssh', kubeadm: 'ssh', kind: 'docker-exec' }

export const RETENTION_DEFAULTS = { last: 5, daily: 7, weekly: 4, monthly: 6 }
