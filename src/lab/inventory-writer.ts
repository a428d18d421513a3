// What `lab up` leaves for every other dr command: inventories/<lab>.yaml (flavor rke or kubeadm, the team's format) and
// inventories/<lab>/ with the SSH key, known_hosts, the kubeconfig and the backup age identity.
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { generateIdentity, identityToRecipient } from 'age-encryption'
import YAML from 'yaml'
import { projectRoot } from '../core/paths.ts'
import { DrError, relevantLines } from '../core/error.ts'
import { runLocal } from '../transport/local.ts'
import { APISERVER_PORT, ETCD_CLIENT_PORT, ETCD_PEER_PORT } from './controlplane.ts'
import { containerName, controlplaneNodes, flavorOf, type LabNode, type LabPlan } from './topology.ts'

export interface LabFiles {
  /** inventories/<lab>.yaml */
  inventory: string
  /** inventories/<lab>/ */
  dir: string
  /** .dr/<lab>/: journals, locks, failover decisions (the inventory's stateDir) */
  state: string
  key: string
  knownHosts: string
  kubeconfig: string
  ageIdentity: string
  pki: string
}

export function labFiles(lab: string, root = projectRoot): LabFiles {
  const dir = path.join(root, 'inventories', lab)
  return {
    inventory: path.join(root, 'inventories', `${lab}.yaml`),
    dir,
    state: path.join(root, '.dr', lab),
    key: path.join(dir, 'id_ed25519'),
    knownHosts: path.join(dir, 'known_hosts'),
    kubeconfig: path.join(dir, 'kube_config_cluster.yml'),
    ageIdentity: path.join(dir, 'backup.age'),
    pki: path.join(dir, 'pki'),
  }
}

/** The node that holds the offsite backup store: a worker in the last site (away from site A), else any node. */
export function offsiteNode(plan: LabPlan): LabNode {
  const last = plan.sites[plan.sites.length - 1].name
  return plan.nodes.find((n) => n.site === last && n.roles.includes('worker')) ?? plan.nodes[plan.nodes.length - 1]
}

const rkeEtcd = {
  clientPort: ETCD_CLIENT_PORT,
  peerPort: ETCD_PEER_PORT,
  caFile: '/etc/kubernetes/ssl/kube-ca.pem',
  certFile: '/etc/kubernetes/ssl/kube-etcd-{ipDashes}.pem',
  keyFile: '/etc/kubernetes/ssl/kube-etcd-{ipDashes}-key.pem',
  dataDir: '/var/lib/etcd',
  container: 'etcd',
}

// kubeadm: etcd's own healthcheck client certificate (what `kubeadm` itself uses to ask etcd); `container` names
// the component (a static pod's container is etcd).
const kubeadmEtcd = {
  clientPort: ETCD_CLIENT_PORT,
  peerPort: ETCD_PEER_PORT,
  caFile: '/etc/kubernetes/pki/etcd/ca.crt',
  certFile: '/etc/kubernetes/pki/etcd/healthcheck-client.crt',
  keyFile: '/etc/kubernetes/pki/etcd/healthcheck-client.key',
  dataDir: '/var/lib/etcd',
  container: 'etcd',
}

/** The inventory document (pure). Paths are relative to inventories/, as the format says. */
export function renderInventory(plan: LabPlan, recipient: string, sshUser?: string): string {
  const rel = plan.name
  // kind: no sshd in a node; dr reaches each one with `docker exec` on its container.
  const kind = flavorOf(plan) === 'kind'
  const doc = {
    cluster: plan.name,
    flavor: flavorOf(plan),
    ...(kind ? {} : { ssh: {
      user: sshUser ?? 'root',
      port: 22,
      identityFile: `${rel}/id_ed25519`,
      knownHosts: `${rel}/known_hosts`,
      acceptNewHostKeys: false,
      sudo: sshUser !== undefined,
      connectTimeoutMs: 5000,
      commandTimeoutMs: 120000,
      concurrency: 8,
    } }),
    etcd: flavorOf(plan) === 'rke' ? rkeEtcd : kubeadmEtcd,
    kubernetes: {
      kubeconfig: `${rel}/kube_config_cluster.yml`,
      apiserverPort: APISERVER_PORT,
      apiserverContainer: 'kube-apiserver',
      kubeletContainer: 'kubelet',
    },
    sites: Object.fromEntries(plan.sites.map((s) => [s.name, { hosts: plan.nodes.filter((n) => n.site === s.name).map((n) => n.name), fence: labFenceAgent(plan.name) }])),
    hosts: Object.fromEntries(plan.nodes.map((n) => [n.name, { address: n.ip, ...(kind ? { transport: 'docker-exec', container: n.container } : {}), roles: n.roles, labels: { 'dr.lab/container': n.container } }])),
    backup: {
      stores: {
        local: { type: 'dir', path: `../.dr/backups/${plan.name}` },
        ...(kind ? {} : { offsite: { type: 'sftp', host: offsiteNode(plan).name, path: '/var/backups/dr' } }),
      },
      defaultStore: 'local',
      encryption: { recipients: [recipient], identityFile: `${rel}/backup.age` },
      schedule: '0 */6 * * *',
      retention: { last: 5, daily: 7, weekly: 4, monthly: 6 },
      metricsFile: '../.dr/metrics/dr_backup.prom',
    },
    stateDir: `../.dr/${plan.name}`,
  }
  const header = [
    `# The dr lab "${plan.name}": written by \`dr lab up\`, removed by \`dr lab down\`. Do not edit; re-run \`dr lab up\`.`,
    `# ${plan.nodes.length} docker containers on network ${plan.network} (${plan.subnet}); see \`dr lab status\`.`,
  ]
  return header.join('\n') + '\n' + YAML.stringify(doc)
}

/**
 * The lab's fence agent: `dr lab power off|on` of this checkout, by absolute path (the lab's power switch,
 * src/lab/power.ts); the status is read from docker directly, as `virsh domstate` reads a VM's (a dr process per
 * status read would cost more than the read, and a failover reads every lost host's power three times).
 */
export function labFenceAgent(lab: string, root = projectRoot) {
  const power = (what: string) => [process.execPath, path.join(root, 'bin', 'dr.js'), 'lab', 'power', what, '{host}', '--name', lab]
  const status = ['docker', 'inspect', '--format', '{{.Name}} running={{.State.Running}}', containerName(lab, '{host}')]
  return { off: power('off'), on: power('on'), status, offPattern: ' running=false\\b', timeoutMs: 90000 }
}

/** known_hosts lines: the node's address and its ed25519 host key (comment dropped). */
export function knownHostsLine(ip: string, publicKey: string): string {
  const [type, key] = publicKey.trim().split(/\s+/)
  if (!type || !key) throw new Error(`not a public key: ${publicKey}`)
  return `${ip} ${type} ${key}`
}

/**
 * The admin kubeconfig, as RKE writes kube_config_cluster.yml: the first controlplane node's address. Seen from
 * another host that address may need a tunnel; dr reads the server from here and tunnels through SSH itself.
 */
export function renderKubeconfig(plan: LabPlan, pem: { ca: string; cert: string; key: string }): string {
  const server = `https://${controlplaneNodes(plan)[0].ip}:${APISERVER_PORT}`
  const b = (s: string) => Buffer.from(s).toString('base64')
  return (
    `# Written by \`dr lab up\`: the first controlplane node's apiserver, like RKE's kube_config_cluster.yml.\n` +
    YAML.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: plan.name, cluster: { server, 'certificate-authority-data': b(pem.ca) } }],
      users: [{ name: `kube-admin-${plan.name}`, user: { 'client-certificate-data': b(pem.cert), 'client-key-data': b(pem.key) } }],
      contexts: [{ name: plan.name, context: { cluster: plan.name, user: `kube-admin-${plan.name}` } }],
      'current-context': plan.name,
    })
  )
}

/** The lab's SSH key (made once per lab with ssh-keygen); returns the public key. */
export async function ensureSshKey(files: LabFiles, lab: string): Promise<string> {
  await fsp.mkdir(files.dir, { recursive: true, mode: 0o700 })
  if (!fs.existsSync(files.key)) {
    const r = await runLocal(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', `dr-lab-${lab}`, '-f', files.key])
    if (!r.ok) throw new DrError({ code: 'lab.ssh-keygen-failed', message: 'ssh-keygen failed', stderr: relevantLines(r.stderr) })
  }
  return fsp.readFile(files.key + '.pub', 'utf8')
}

/** The backup age identity (made once per lab); returns its recipient. */
export async function ensureAgeIdentity(files: LabFiles): Promise<string> {
  if (fs.existsSync(files.ageIdentity)) {
    const identity = (await fsp.readFile(files.ageIdentity, 'utf8')).split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))
    if (identity) return identityToRecipient(identity.trim())
  }
  const identity = await generateIdentity()
  const recipient = await identityToRecipient(identity)
  await fsp.writeFile(files.ageIdentity, `# created: ${new Date().toISOString()}\n# public key: ${recipient}\n${identity}\n`, { mode: 0o600 })
  return recipient
}

export async function writeLabFiles(plan: LabPlan, files: LabFiles, hostKeys: Map<string, string>, recipient: string, sshUser?: string) {
  // A kind node has no sshd and no host key: known_hosts lists the others (none, in a kind lab).
  const lines = plan.nodes.filter((n) => hostKeys.has(n.name)).map((n) => knownHostsLine(n.ip, hostKeys.get(n.name)!))
  await fsp.writeFile(files.knownHosts, lines.join('\n') + '\n', { mode: 0o644 })
  const read = (f: string) => fsp.readFile(path.join(files.pki, f), 'utf8')
  const pem = { ca: await read('kube-ca.pem'), cert: await read('kube-admin.pem'), key: await read('kube-admin-key.pem') }
  await fsp.writeFile(files.kubeconfig, renderKubeconfig(plan, pem), { mode: 0o600 })
  await fsp.mkdir(path.join(projectRoot, '.dr', 'backups', plan.name), { recursive: true })
  // Written last: its presence means the lab is complete.
  await fsp.writeFile(files.inventory + '.tmp', renderInventory(plan, recipient, sshUser), { mode: 0o644 })
  await fsp.rename(files.inventory + '.tmp', files.inventory)
}
