// The lab's shape as data: which nodes exist, in which site, with which roles and addresses. Pure, so the
// naming and address rules are unit-tested and `lab up`, `status` and the inventory all agree on them.
import { DrError } from '../core/error.ts'
import type { Role } from '../inventory/types.ts'

export interface LabNode {
  name: string
  site: string
  roles: Role[]
  ip: string
  /** The docker container that is this node. */
  container: string
}

/**
 * How the control plane runs: RKE's docker containers, kubeadm's static pods run by a kubelet stand-in, or those
 * static pods on kind-shaped nodes (containerd only, reached with docker exec).
 */
export type LabFlavor = 'rke' | 'kubeadm' | 'kind'
export const LAB_FLAVORS: readonly LabFlavor[] = ['rke', 'kubeadm', 'kind']

export interface LabSpec {
  name: string
  /** Unset: rke (labs made before flavors existed have none). */
  flavor?: LabFlavor
  /** Sites in order, with their number of etcd+controlplane nodes. */
  sites: Array<{ name: string; masters: number }>
  /** Workers per site. */
  workers: number
  /** A /24, written as a.b.c.0/24. */
  subnet: string
}

export interface LabPlan extends LabSpec {
  network: string
  gateway: string
  nodes: LabNode[]
}

export const DEFAULT_SITES = 'A=2,B=1'
export const DEFAULT_LAB = 'lab'
const FIRST_HOST = 11

/** `A=2,B=1` → [{A,2},{B,1}]. Site names are letters/digits; every site needs at least one master. */
export function parseSites(text: string): Array<{ name: string; masters: number }> {
  const sites = text.split(',').map((part) => {
    const m = /^\s*([A-Za-z][A-Za-z0-9-]*)\s*=\s*(\d+)\s*$/.exec(part)
    if (!m) throw usage(`cannot read site "${part}" in --sites ${text}`, 'write sites as NAME=MASTERS, e.g. --sites A=2,B=1')
    return { name: m[1], masters: Number(m[2]) }
  })
  const names = new Set(sites.map((s) => s.name))
  if (names.size !== sites.length) throw usage(`a site is named twice in --sites ${text}`, 'give each site once')
  if (sites.some((s) => s.masters < 1)) throw usage(`every site needs at least one etcd+controlplane node (--sites ${text})`, 'use NAME=1 or more')
  const total = sites.reduce((n, s) => n + s.masters, 0)
  if (total > 7) throw usage(`${total} etcd members is more than the lab supports (7)`, 'use fewer masters')
  return sites
}

/** The default lab gets 172.30.0.0/24 (the BRIEF's addresses); other names get a stable /24 of their own. */
export function subnetFor(name: string): string {
  if (name === DEFAULT_LAB) return '172.30.0.0/24'
  let h = 2166136261
  for (const c of name) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0
  return `172.30.${1 + (h % 250)}.0/24`
}

/**
 * The preferred /24 unless a docker network already uses it; then the next free 172.30.N.0/24 (pure; `taken`
 * are the subnets of the engine's networks).
 */
export function freeSubnet(preferred: string, taken: string[]): string {
  if (!taken.includes(preferred)) return preferred
  const m = /^172\.30\.(\d+)\.0\/24$/.exec(preferred)
  const start = m ? Number(m[1]) : 0
  for (let i = 1; i <= 250; i++) {
    const candidate = `172.30.${1 + ((start + i - 1) % 250)}.0/24`
    if (!taken.includes(candidate)) return candidate
  }
  throw usage('no free 172.30.N.0/24 for the lab network', 'remove unused docker networks or pass --subnet')
}

export function containerName(lab: string, node: string): string {
  return lab === DEFAULT_LAB ? `dr-lab-${node}` : `dr-lab-${lab}-${node}`
}

export function networkName(lab: string): string {
  return `dr-lab-${lab}`
}

/** Volume holding a node's inner /var/lib/docker. */
export function dockerVolumeName(lab: string, node: string): string {
  return `${containerName(lab, node)}-docker`
}

/**
 * Nodes in address order: per site its masters then its workers. Masters and workers are numbered across
 * sites (master1, master2 in A, master3 in B; node1 in A, node2 in B), which gives the BRIEF's layout.
 */
export function planLab(spec: LabSpec): LabPlan {
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(spec.name)) throw usage(`lab name "${spec.name}" is not usable in docker names`, 'use lower-case letters, digits and -')
  const m = /^(\d+)\.(\d+)\.(\d+)\.0\/24$/.exec(spec.subnet)
  if (!m) throw usage(`subnet ${spec.subnet} is not a /24 ending in .0`, 'use a.b.c.0/24')
  const prefix = `${m[1]}.${m[2]}.${m[3]}`
  const nodes: LabNode[] = []
  let masters = 0
  let workers = 0
  let host = FIRST_HOST
  for (const site of spec.sites) {
    const add = (name: string, roles: Role[]) =>
      nodes.push({ name, site: site.name, roles, ip: `${prefix}.${host++}`, container: containerName(spec.name, name) })
    for (let i = 0; i < site.masters; i++) add(`master${++masters}`, ['etcd', 'controlplane'])
    for (let i = 0; i < spec.workers; i++) add(`node${++workers}`, ['worker'])
  }
  if (host > 250) throw usage('too many nodes for one /24', 'use fewer nodes')
  return { ...spec, network: networkName(spec.name), gateway: `${prefix}.1`, nodes }
}

export const flavorOf = (p: Pick<LabSpec, 'flavor'>): LabFlavor => p.flavor ?? 'rke'

export function parseFlavor(text: string): LabFlavor {
  if ((LAB_FLAVORS as readonly string[]).includes(text)) return text as LabFlavor
  throw usage(`--flavor ${text} is not a lab flavor`, `use one of ${LAB_FLAVORS.join(', ')}`)
}

export const etcdNodes = (p: LabPlan) => p.nodes.filter((n) => n.roles.includes('etcd'))
export const controlplaneNodes = (p: LabPlan) => p.nodes.filter((n) => n.roles.includes('controlplane'))
export const ipDashes = (ip: string) => ip.replaceAll('.', '-')

function usage(message: string, hint: string) {
  return new DrError({ code: 'lab.bad-option', message, hint, exit: 'usage' })
}
