// The lab's PKI, made with openssl on the host and laid out like RKE's /etc/kubernetes/ssl/: one CA, a serving
// + peer certificate per etcd member, the apiserver's serving certificate, the node client certificate the
// apiserver and kubelets use towards etcd and the API, and the admin client certificate for the kubeconfig.
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { DrError, relevantLines } from '../core/error.ts'
import { runLocal } from '../transport/local.ts'
import { controlplaneNodes, etcdNodes, ipDashes, type LabNode, type LabPlan } from './topology.ts'

export interface CertSpec {
  /** File stem in /etc/kubernetes/ssl: `<stem>.pem` and `<stem>-key.pem`. */
  stem: string
  cn: string
  org?: string
  ips: string[]
  dns: string[]
  usage: Array<'serverAuth' | 'clientAuth'>
}

/** Every certificate the lab needs (pure). etcd SANs include 127.0.0.1: dr reaches members through SSH tunnels. */
export function certSpecs(plan: LabPlan): CertSpec[] {
  const cps = controlplaneNodes(plan)
  return [
    ...etcdNodes(plan).map((n) => ({
      stem: `kube-etcd-${ipDashes(n.ip)}`,
      cn: `kube-etcd-${ipDashes(n.ip)}`,
      ips: [n.ip, '127.0.0.1'],
      dns: ['localhost', n.name],
      usage: ['serverAuth', 'clientAuth'] as CertSpec['usage'],
    })),
    {
      stem: 'kube-apiserver',
      cn: 'kube-apiserver',
      ips: [...cps.map((n) => n.ip), '127.0.0.1', '10.43.0.1'],
      dns: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', ...cps.map((n) => n.name)],
      usage: ['serverAuth'],
    },
    { stem: 'kube-node', cn: 'system:node', org: 'system:nodes', ips: [], dns: [], usage: ['clientAuth'] },
    { stem: 'kube-admin', cn: 'kube-admin', org: 'system:masters', ips: [], dns: [], usage: ['clientAuth'] },
  ]
}

/** Which PKI files a node gets, as RKE distributes them: etcd certs go to etcd and controlplane nodes. */
export function filesForNode(plan: LabPlan, node: LabNode): string[] {
  const files = ['kube-ca.pem', 'kube-node.pem', 'kube-node-key.pem']
  if (node.roles.includes('etcd') || node.roles.includes('controlplane')) {
    for (const n of etcdNodes(plan)) files.push(`kube-etcd-${ipDashes(n.ip)}.pem`, `kube-etcd-${ipDashes(n.ip)}-key.pem`)
  }
  if (node.roles.includes('controlplane')) files.push('kube-apiserver.pem', 'kube-apiserver-key.pem')
  return files
}

export function extFile(spec: CertSpec): string {
  const san = [...spec.ips.map((ip) => `IP:${ip}`), ...spec.dns.map((d) => `DNS:${d}`)]
  return [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage=${spec.usage.join(',')}`,
    ...(san.length ? [`subjectAltName=${san.join(',')}`] : []),
  ].join('\n') + '\n'
}

async function openssl(args: string[], doing: string) {
  const r = await runLocal(['openssl', ...args], { timeoutMs: 60_000 })
  if (!r.ok) {
    throw new DrError({ code: 'lab.pki-failed', message: `openssl failed: ${doing}`, doing, command: r.command, stderr: relevantLines(r.stderr) })
  }
}

/**
 * The kubeadm flavor's extra certificates, as `kubeadm init phase certs` makes them: per etcd member a serving
 * certificate (valid for the node, localhost and 127.0.0.1 — kubeadm's apiserver talks to its local member) and a
 * peer certificate; etcd's healthcheck client and the apiserver's etcd client (both O=system:masters).
 */
export function kubeadmCertSpecs(plan: LabPlan): CertSpec[] {
  const member = (n: LabNode, kind: 'server' | 'peer'): CertSpec => ({
    stem: `kubeadm-etcd-${kind}-${n.name}`,
    cn: n.name,
    ips: [n.ip, '127.0.0.1'],
    dns: [n.name, 'localhost'],
    usage: ['serverAuth', 'clientAuth'],
  })
  return [
    ...etcdNodes(plan).flatMap((n) => [member(n, 'server'), member(n, 'peer')]),
    { stem: 'kubeadm-etcd-healthcheck-client', cn: 'kube-etcd-healthcheck-client', org: 'system:masters', ips: [], dns: [], usage: ['clientAuth'] },
    { stem: 'kubeadm-apiserver-etcd-client', cn: 'kube-apiserver-etcd-client', org: 'system:masters', ips: [], dns: [], usage: ['clientAuth'] },
  ]
}

/**
 * Where a kubeadm node's files go (path under / on the node → file in the lab's pki/). One lab CA stands for
 * kubeadm's cluster CA and its etcd CA. The kubelet stand-in's client certificate sits where a kubelet keeps its own.
 */
export function kubeadmLayout(plan: LabPlan, node: LabNode): Array<[string, string]> {
  const out: Array<[string, string]> = [
    ['etc/kubernetes/pki/ca.crt', 'kube-ca.pem'],
    ['var/lib/kubelet/pki/kubelet-client.crt', 'kube-node.pem'],
    ['var/lib/kubelet/pki/kubelet-client.key', 'kube-node-key.pem'],
  ]
  if (node.roles.includes('etcd')) {
    out.push(
      ['etc/kubernetes/pki/etcd/ca.crt', 'kube-ca.pem'],
      ...(['server', 'peer'] as const).flatMap((k): Array<[string, string]> => [
        [`etc/kubernetes/pki/etcd/${k}.crt`, `kubeadm-etcd-${k}-${node.name}.pem`],
        [`etc/kubernetes/pki/etcd/${k}.key`, `kubeadm-etcd-${k}-${node.name}-key.pem`],
      ]),
      ['etc/kubernetes/pki/etcd/healthcheck-client.crt', 'kubeadm-etcd-healthcheck-client.pem'],
      ['etc/kubernetes/pki/etcd/healthcheck-client.key', 'kubeadm-etcd-healthcheck-client-key.pem'],
    )
  }
  if (node.roles.includes('controlplane')) {
    out.push(
      ['etc/kubernetes/pki/etcd/ca.crt', 'kube-ca.pem'],
      ['etc/kubernetes/pki/apiserver.crt', 'kube-apiserver.pem'],
      ['etc/kubernetes/pki/apiserver.key', 'kube-apiserver-key.pem'],
      ['etc/kubernetes/pki/apiserver-etcd-client.crt', 'kubeadm-apiserver-etcd-client.pem'],
      ['etc/kubernetes/pki/apiserver-etcd-client.key', 'kubeadm-apiserver-etcd-client-key.pem'],
    )
  }
  return [...new Map(out).entries()]
}

/** Create the CA and every certificate in `dir` unless they already exist (a re-run keeps the lab's PKI). */
export async function ensurePki(plan: LabPlan, dir: string): Promise<void> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 })
  const ca = path.join(dir, 'kube-ca.pem')
  const caKey = path.join(dir, 'kube-ca-key.pem')
  if (!fs.existsSync(ca)) {
    await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', ca, '-days', '3650',
      '-subj', `/CN=kube-ca-dr-lab-${plan.name}`], 'create the lab CA')
  }
  await Promise.all(
    [...certSpecs(plan), ...(plan.flavor === 'kubeadm' || plan.flavor === 'kind' ? kubeadmCertSpecs(plan) : [])].map(async (spec) => {
      const cert = path.join(dir, `${spec.stem}.pem`)
      const key = path.join(dir, `${spec.stem}-key.pem`)
      if (fs.existsSync(cert) && fs.existsSync(key)) return
      const csr = path.join(dir, `${spec.stem}.csr`)
      const ext = path.join(dir, `${spec.stem}.ext`)
      await fsp.writeFile(ext, extFile(spec))
      const subj = `/CN=${spec.cn}` + (spec.org ? `/O=${spec.org}` : '')
      await openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', subj], `create the key of ${spec.stem}`)
      await openssl(['x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-set_serial', `0x${randomSerial()}`,
        '-days', '3650', '-sha256', '-extfile', ext, '-out', cert], `sign ${spec.stem}`)
      await fsp.rm(csr)
      await fsp.rm(ext)
    }),
  )
  for (const f of await fsp.readdir(dir)) await fsp.chmod(path.join(dir, f), f.endsWith('-key.pem') ? 0o600 : 0o644)
}

function randomSerial(): string {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('').replace(/^[89a-f]/, '1')
}

/**
 * A certificate of the lab re-issued with the same key and names but valid for `days` only (the cert-expiry
 * fault); written to `outDir/<stem>.pem`. The lab's own copy in `dir` is left as it is.
 */
export async function reissueShortLived(plan: LabPlan, dir: string, stem: string, days: number, outDir: string): Promise<string> {
  const spec = certSpecs(plan).find((s) => s.stem === stem)
  if (!spec) throw new DrError({ code: 'lab.no-such-cert', message: `the lab has no certificate ${stem}` })
  const csr = path.join(outDir, `${stem}.csr`)
  const ext = path.join(outDir, `${stem}.ext`)
  const out = path.join(outDir, `${stem}.pem`)
  await fsp.writeFile(ext, extFile(spec))
  const subj = `/CN=${spec.cn}` + (spec.org ? `/O=${spec.org}` : '')
  await openssl(['req', '-new', '-key', path.join(dir, `${stem}-key.pem`), '-out', csr, '-subj', subj], `request ${stem}`)
  await openssl(['x509', '-req', '-in', csr, '-CA', path.join(dir, 'kube-ca.pem'), '-CAkey', path.join(dir, 'kube-ca-key.pem'),
    '-set_serial', `0x${randomSerial()}`, '-days', String(days), '-sha256', '-extfile', ext, '-out', out], `sign ${stem} for ${days} days`)
  await fsp.chmod(out, 0o644)
  return out
}
