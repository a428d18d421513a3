// Faults a drill injects: a site loses power (its node containers are killed, then started again like rebooted
// hosts), and sites lose sight of each other (iptables DROP inside the nodes' network namespaces, leaving
// traffic with the docker host — dr's SSH — alone). For the troubleshooting commands (issue 12), `dr lab break`:
// ip-drift (the nodes come back on other addresses, as docker does to kind nodes after a restart, seeds 000/001),
// address-change (one etcd node moves to a new address for good, fault-address-change.ts),
// nospace (etcd's NOSPACE alarm), cert-expiry (an etcd certificate that expires in 2 days) and stale-container
// (seed 002, kubeadm flavor: fault-stale-container.ts).
import fsp from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { DrError } from '../core/error.ts'
import type { Output } from '../core/output.ts'
import { docker, dockerExec, dockerText, requireEngine } from './docker.ts'
import { copyInto, existingSpec, listNodeContainers, waitForNode, type NodeContainer } from './nodes.ts'
import { etcdNodes, ipDashes, networkName, planLab, type LabNode, type LabPlan } from './topology.ts'
import { reissueShortLived } from './certs.ts'
import { etcdRunArgs } from './controlplane.ts'
import { etcdHealthy } from './inner-docker.ts'
import { labFiles } from './inventory-writer.ts'
import { staleContainer as breakStaleContainer, type StaleContainerBreak } from './fault-stale-container.ts'
import { addressChange as breakAddressChange, type AddressChangeBreak } from './fault-address-change.ts'

export const PARTITION_CHAIN = 'DR-LAB-PARTITION'

async function siteNodes(lab: string, site: string): Promise<NodeContainer[]> {
  await requireEngine()
  const all = await listNodeContainers(lab)
  if (all.length === 0) throw new DrError({ code: 'lab.not-up', message: `lab ${lab} is not up`, hint: 'run `dr lab up`', exit: 'usage' })
  const nodes = all.filter((c) => c.site === site)
  if (nodes.length === 0) {
    const sites = [...new Set(all.map((c) => c.site))].join(', ')
    throw new DrError({ code: 'lab.no-such-site', message: `lab ${lab} has no site ${site} (sites: ${sites})`, exit: 'usage' })
  }
  return nodes
}

const asLabNode = (c: NodeContainer): LabNode => ({ name: c.name, site: c.site, roles: c.roles as LabNode['roles'], ip: c.ip, container: c.container })

/** Power a site off: SIGKILL, no clean shutdown — etcd gets no chance to hand over leadership. */
export async function stopSite(lab: string, site: string, out: Output): Promise<string[]> {
  const nodes = (await siteNodes(lab, site)).filter((c) => c.state === 'running')
  if (nodes.length) {
    out.progress(`powering off site ${site}: ${nodes.map((c) => c.name).join(', ')}`)
    await docker(['kill', ...nodes.map((c) => c.container)], { doing: `stop site ${site}` })
  }
  return nodes.map((c) => c.name)
}

/** Power a site on and wait until its nodes answer (sshd, dockerd); their control plane restarts by itself. */
export async function startSite(lab: string, site: string, out: Output): Promise<string[]> {
  const nodes = (await siteNodes(lab, site)).filter((c) => c.state !== 'running')
  if (nodes.length) {
    out.progress(`powering on site ${site}: ${nodes.map((c) => c.name).join(', ')}`)
    await docker(['start', ...nodes.map((c) => c.container)], { doing: `start site ${site}` })
    await Promise.all(nodes.map((c) => waitForNode(asLabNode(c))))
  }
  return nodes.map((c) => c.name)
}

/** iptables commands (argv) that make a node drop all traffic to and from `peers` (pure). */
export function partitionRules(peers: string[]): string[][] {
  const rules: string[][] = []
  for (const ip of peers) {
    rules.push(['iptables', '-w', '-A', PARTITION_CHAIN, '-s', ip, '-j', 'DROP'])
    rules.push(['iptables', '-w', '-A', PARTITION_CHAIN, '-d', ip, '-j', 'DROP'])
  }
  return rules
}

/** Make sure the node's partition chain exists and INPUT, OUTPUT and FORWARD jump to it first. */
const ENSURE_CHAIN = `iptables -w -N ${PARTITION_CHAIN} 2>/dev/null || true
for c in INPUT OUTPUT FORWARD; do iptables -w -C $c -j ${PARTITION_CHAIN} 2>/dev/null || iptables -w -I $c 1 -j ${PARTITION_CHAIN}; done`

/** Where a node keeps the peers it drops, so its boot re-applies them (see node-files/dr-lab-node-init). */
const PARTITION_FILE = '/etc/dr-lab-partition'

/** Record the peers a node drops; `docker cp` works on a stopped node too. */
async function recordPeers(node: NodeContainer, peers: string[]): Promise<void> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dr-lab-partition-'))
  try {
    const file = path.join(dir, 'peers')
    await fsp.writeFile(file, peers.map((p) => `${p}\n`).join(''))
    await docker(['cp', file, `${node.container}:${PARTITION_FILE}`], { doing: `record the partition on ${node.name}` })
  } finally {
    await fsp.rm(dir, { recursive: true, force: true })
  }
}

async function recordedPeers(node: NodeContainer): Promise<string[]> {
  const r = await docker(['cp', `${node.container}:${PARTITION_FILE}`, '-'], { nothrow: true })
  // `docker cp … -` writes a tar stream: the addresses are its only dotted quads.
  return r.ok ? [...new Set(r.stdout.match(/\b\d+\.\d+\.\d+\.\d+\b/g) ?? [])] : []
}

/** Partition two sites: running nodes drop the traffic now, and every node (stopped ones too) on its next boot. */
export async function partition(lab: string, a: string, b: string, out: Output): Promise<void> {
  if (a === b) throw new DrError({ code: 'lab.bad-option', message: 'partition needs two different sites', exit: 'usage' })
  const [na, nb] = [await siteNodes(lab, a), await siteNodes(lab, b)]
  out.progress(`partitioning site ${a} (${na.map((c) => c.ip).join(', ')}) from site ${b} (${nb.map((c) => c.ip).join(', ')})`)
  const apply = async (node: NodeContainer, peers: NodeContainer[]) => {
    const all = [...new Set([...(await recordedPeers(node)), ...peers.map((p) => p.ip)])]
    await recordPeers(node, all)
    if (node.state !== 'running') return
    await dockerExec(node.container, ['sh', '-c', ENSURE_CHAIN], { doing: `prepare iptables on ${node.name}` })
    for (const rule of partitionRules(peers.map((p) => p.ip))) {
      const check = ['iptables', '-w', '-C', ...rule.slice(3)]
      if (!(await dockerExec(node.container, check, { nothrow: true })).ok) await dockerExec(node.container, rule, { doing: `partition ${node.name}` })
    }
  }
  await Promise.all([...na.map((n) => apply(n, nb)), ...nb.map((n) => apply(n, na))])
}

/** Remove every partition rule on every running node, and the recorded ones on every node. */
export async function heal(lab: string, out: Output): Promise<string[]> {
  await requireEngine()
  const all = await listNodeContainers(lab)
  await Promise.all(all.map(async (n) => ((await recordedPeers(n)).length ? recordPeers(n, []) : undefined)))
  const nodes = all.filter((c) => c.state === 'running')
  const healed: string[] = []
  await Promise.all(
    nodes.map(async (n) => {
      const r = await dockerExec(n.container, ['iptables', '-w', '-S', PARTITION_CHAIN], { nothrow: true })
      if (!r.ok || !/-j DROP/.test(r.stdout)) return
      await dockerExec(n.container, ['iptables', '-w', '-F', PARTITION_CHAIN], { doing: `heal ${n.name}` })
      healed.push(n.name)
    }),
  )
  if (healed.length) out.progress(`removed partition rules on ${healed.sort().join(', ')}`)
  return healed
}

/** The addresses a node currently drops (for `lab status`). */
export async function partitionedFrom(node: NodeContainer): Promise<string[]> {
  const r = await dockerExec(node.container, ['iptables', '-w', '-S', PARTITION_CHAIN], { nothrow: true })
  if (!r.ok) return []
  return [...new Set([...r.stdout.matchAll(/-[sd] (\d+\.\d+\.\d+\.\d+)\/32 -j DROP/g)].map((m) => m[1]))]
}

// ---- dr lab break … ------------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export const FAULTS = ['ip-drift', 'address-change', 'nospace', 'cert-expiry', 'stale-container'] as const
export type Fault = (typeof FAULTS)[number]

async function runningLab(lab: string): Promise<{ plan: LabPlan; nodes: NodeContainer[] }> {
  await requireEngine()
  const spec = await existingSpec(lab, networkName(lab))
  const nodes = await listNodeContainers(lab)
  if (!spec || nodes.length === 0) throw new DrError({ code: 'lab.not-up', message: `lab ${lab} is not up`, hint: `run \`dr lab up --name ${lab}\``, exit: 'usage' })
  const stopped = nodes.filter((n) => n.state !== 'running')
  if (stopped.length) throw new DrError({ code: 'lab.nodes-stopped', message: `lab ${lab} has stopped nodes: ${stopped.map((n) => n.name).join(', ')}`, hint: 'start them first (dr lab start-site SITE)', exit: 'usage' })
  return { plan: planLab(spec), nodes }
}

const planNode = (c: NodeContainer, plan: LabPlan): LabNode => plan.nodes.find((n) => n.name === c.name)!

/**
 * Disconnect every node from the lab network and connect it again without a fixed address, so docker hands out
 * others, then restart the nodes (a docker restart). Returns the moves.
 */
export async function ipDrift(lab: string, out: Output): Promise<Array<{ node: string; from: string; to: string }>> {
  const { plan, nodes } = await runningLab(lab)
  const net = networkName(lab)
  out.progress(`moving ${nodes.length} nodes off their addresses on ${net}`)
  for (const n of nodes) await docker(['network', 'disconnect', net, n.container], { doing: `disconnect ${n.name}` })
  for (const n of nodes) await docker(['network', 'connect', net, n.container], { doing: `reconnect ${n.name}` })
  await docker(['restart', '-t', '2', ...nodes.map((n) => n.container)], { doing: 'restart the nodes' })
  await Promise.all(nodes.map((n) => waitForNode(planNode(n, plan))))
  const after = await listNodeContainers(lab)
  const moves = nodes.map((n) => ({ node: n.name, from: n.ip, to: after.find((a) => a.name === n.name)?.ip ?? '' }))
  const same = moves.filter((m) => m.from === m.to)
  if (same.length) throw new DrError({ code: 'lab.fault-failed', message: `docker gave ${same.map((m) => m.node).join(', ')} the same address again`, hint: 'run the fault again' })
  return moves
}

export const NOSPACE_QUOTA = 8 * 1024 * 1024

/** Re-create the first etcd member with a small quota and write until etcd raises NOSPACE. Returns the puts made. */
export async function nospace(lab: string, out: Output): Promise<{ node: string; quota: number; puts: number }> {
  const { plan } = await runningLab(lab)
  const node = etcdNodes(plan)[0]
  const image = await dockerText(['exec', node.container, 'docker', 'inspect', '--format', '{{.Config.Image}}', 'etcd'], { doing: `read the etcd image on ${node.name}` })
  out.progress(`re-creating etcd on ${node.name} with --quota-backend-bytes=${NOSPACE_QUOTA}`)
  await dockerExec(node.container, ['docker', 'rm', '-f', 'etcd'], { doing: `remove etcd on ${node.name}` })
  await dockerExec(node.container, ['docker', ...etcdRunArgs(plan, node, image), `--quota-backend-bytes=${NOSPACE_QUOTA}`], { doing: `run etcd on ${node.name}` })
  for (let i = 0; !(await etcdHealthy(node)); i++) {
    if (i > 120) throw new DrError({ code: 'lab.fault-failed', message: `etcd on ${node.name} did not come back healthy`, host: node.name })
    await sleep(500)
  }
  out.progress('writing until etcd refuses: database space exceeded')
  // One key rewritten with 256 kB values: the history fills the backend; compaction can free it all again.
  const fill = `head -c 262144 /dev/zero | tr '\\0' x > /tmp/dr-nospace-value; i=0; fails=0
while [ $i -lt 400 ]; do
  if ! err=$(etcdctl put /dr-lab/nospace < /tmp/dr-nospace-value 2>&1 >/dev/null); then
    case "$err" in *"space exceeded"*) rm -f /tmp/dr-nospace-value; echo "$i"; exit 0;; esac
    fails=$((fails+1)); [ $fails -gt 10 ] && { echo "$err" >&2; exit 1; }
    sleep 0.5
  fi
  i=$((i+1))
done
echo "no alarm after $i puts" >&2; exit 1`
  const r = await dockerExec(node.container, ['docker', 'exec', 'etcd', 'sh', '-c', fill], { timeoutMs: 600_000, doing: 'fill etcd' })
  return { node: node.name, quota: NOSPACE_QUOTA, puts: Number(r.stdout.trim()) }
}

export const CERT_EXPIRY_DAYS = 2

/** Re-issue the first etcd member's certificate (same key, same names) valid for 2 days; restart that etcd. */
export async function certExpiry(lab: string, out: Output): Promise<{ node: string; file: string; days: number }> {
  const { plan, nodes } = await runningLab(lab)
  const node = etcdNodes(plan)[0]
  const stem = `kube-etcd-${ipDashes(node.ip)}`
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dr-lab-cert-'))
  try {
    await reissueShortLived(plan, labFiles(lab).pki, stem, CERT_EXPIRY_DAYS, dir)
    out.progress(`re-issued ${stem}.pem valid for ${CERT_EXPIRY_DAYS} days; copying it to the nodes that hold it`)
    const holders = nodes.filter((n) => n.roles.includes('etcd') || n.roles.includes('controlplane'))
    await Promise.all(holders.map((n) => copyInto(planNode(n, plan), dir, [`${stem}.pem`], '/etc/kubernetes/ssl')))
  } finally {
    await fsp.rm(dir, { recursive: true, force: true })
  }
  await dockerExec(node.container, ['docker', 'restart', 'etcd'], { doing: `restart etcd on ${node.name}` })
  for (let i = 0; !(await etcdHealthy(node)); i++) {
    if (i > 120) throw new DrError({ code: 'lab.fault-failed', message: `etcd on ${node.name} did not come back healthy`, host: node.name })
    await sleep(500)
  }
  return { node: node.name, file: `/etc/kubernetes/ssl/${stem}.pem`, days: CERT_EXPIRY_DAYS }
}

/** Seed 002 on the first controlplane node: an exited container holds the next kube-apiserver's name (kubeadm only). */
export async function staleContainer(lab: string, out: Output): Promise<StaleContainerBreak> {
  const { plan } = await runningLab(lab)
  return breakStaleContainer(lab, plan, out)
}

/** One etcd node moved to a new address for good, the lab's files rewritten for it (fault-address-change.ts). */
export async function addressChange(lab: string, host: string | undefined, out: Output): Promise<AddressChangeBreak> {
  const { plan, nodes } = await runningLab(lab)
  return breakAddressChange(lab, plan, nodes, host, out)
}
