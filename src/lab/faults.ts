// Faults a drill injects: a site loses power (its node containers are killed, then started again like rebooted
// hosts), and sites lose sight of each other (iptables DROP inside the nodes' network namespaces, leaving
// traffic with the docker host — dr's SSH — alone).
import fsp from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { DrError } from '../core/error.ts'
import type { Output } from '../core/output.ts'
import { docker, dockerExec, requireEngine } from './docker.ts'
import { listNodeContainers, waitForNode, type NodeContainer } from './nodes.ts'
import type { LabNode } from './topology.ts'

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
