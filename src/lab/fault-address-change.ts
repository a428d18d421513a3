// `dr lab break address-change [--host master1]`: one etcd node moves to another address for good, as a host
// re-addressed by its network team does. The node container is connected to the lab network again at a new fixed
// address and restarted; then the lab's files are rewritten the way an operator would after a re-IP: the
// inventory's address, the known_hosts line, the kubeconfig's server. Nothing inside the cluster is touched: etcd
// on the node still advertises the old address, its certificate does not carry the new one (its peers refuse it:
// etcd checks a peer certificate's IP SANs against the connection's address), and every kube-apiserver's
// --etcd-servers still names the old address. `dr doctor` calls it address-changed; `dr doctor --fix` repairs it.
import fsp from 'node:fs/promises'
import YAML from 'yaml'
import { DrError } from '../core/error.ts'
import type { Output } from '../core/output.ts'
import { docker } from './docker.ts'
import { labFiles } from './inventory-writer.ts'
import { listNodeContainers, waitForNode, type NodeContainer } from './nodes.ts'
import { etcdNodes, type LabPlan } from './topology.ts'

export interface AddressChangeBreak {
  node: string
  from: string
  to: string
}

/** The first free address of the lab's /24 from .200 up (pure): not a node's, not the gateway. */
export function freeAddress(plan: Pick<LabPlan, 'subnet' | 'gateway'>, used: string[]): string {
  const prefix = plan.subnet.replace(/\.0\/24$/, '')
  for (let i = 200; i < 255; i++) {
    const ip = `${prefix}.${i}`
    if (ip !== plan.gateway && !used.includes(ip)) return ip
  }
  throw new DrError({ code: 'lab.fault-failed', message: `no free address left in ${plan.subnet} from .200 up` })
}

/** The lab inventory with one host's address changed, comments and order kept (pure). */
export function inventoryWithAddress(text: string, host: string, address: string): string {
  const doc = YAML.parseDocument(text)
  if (!doc.hasIn(['hosts', host, 'address'])) throw new DrError({ code: 'lab.fault-failed', message: `the lab inventory has no hosts.${host}.address` })
  doc.setIn(['hosts', host, 'address'], address)
  return doc.toString()
}

/** known_hosts with the old address's lines moved to the new address (pure). */
export function knownHostsMoved(text: string, from: string, to: string): string {
  return text
    .split('\n')
    .map((l) => (l.startsWith(`${from} `) ? `${to} ${l.slice(from.length + 1)}` : l))
    .join('\n')
}

async function rewrite(file: string, edit: (text: string) => string) {
  const text = await fsp.readFile(file, 'utf8')
  const out = edit(text)
  if (out === text) return
  await fsp.writeFile(`${file}.tmp`, out, { mode: (await fsp.stat(file)).mode & 0o777 })
  await fsp.rename(`${file}.tmp`, file)
}

export async function addressChange(lab: string, plan: LabPlan, nodes: NodeContainer[], host: string | undefined, out: Output): Promise<AddressChangeBreak> {
  const name = host ?? etcdNodes(plan)[0].name
  const node = nodes.find((n) => n.name === name)
  if (!node) throw new DrError({ code: 'lab.no-such-node', message: `lab ${lab} has no node ${name}`, hint: `nodes: ${nodes.map((n) => n.name).join(', ')}`, exit: 'usage' })
  if (!node.roles.includes('etcd')) throw new DrError({ code: 'lab.bad-option', message: `${name} is not an etcd node: address-change moves an etcd member`, hint: `one of ${etcdNodes(plan).map((n) => n.name).join(', ')}`, exit: 'usage' })
  const to = freeAddress(plan, nodes.map((n) => n.ip))
  out.progress(`moving ${name} from ${node.ip} to ${to} on ${plan.network} for good`)
  await docker(['network', 'disconnect', plan.network, node.container], { doing: `disconnect ${name}` })
  await docker(['network', 'connect', '--ip', to, plan.network, node.container], { doing: `connect ${name} at ${to}` })
  await docker(['restart', '-t', '2', node.container], { doing: `restart ${name}` })
  await waitForNode({ name, site: node.site, roles: node.roles as LabPlan['nodes'][number]['roles'], ip: to, container: node.container })
  const now = (await listNodeContainers(lab)).find((n) => n.name === name)?.ip
  if (now !== to) throw new DrError({ code: 'lab.fault-failed', message: `${name} is at ${now ?? 'no address'} after the move, not ${to}`, host: name })
  out.progress(`rewriting the lab's inventory, known_hosts and kubeconfig for ${name} at ${to}`)
  const files = labFiles(lab)
  await rewrite(files.knownHosts, (t) => knownHostsMoved(t, node.ip, to))
  await rewrite(files.kubeconfig, (t) => t.replaceAll(`https://${node.ip}:`, `https://${to}:`))
  await rewrite(files.inventory, (t) => inventoryWithAddress(t, name, to))
  return { node: name, from: node.ip, to }
}
