// The lab's power controller, the fence agent the lab's inventory names (`fence:`): a node's power is its
// container — off is `docker kill` (no clean shutdown, like pulling the plug or `ipmitool … power off`), on is
// `docker start` (a boot: its docker restarts whatever had a restart policy), status is docker's State.Running.
import { DrError } from '../core/error.ts'
import { docker, requireEngine } from './docker.ts'
import { listNodeContainers, waitForNode, type NodeContainer } from './nodes.ts'
import type { LabNode } from './topology.ts'

export type LabPower = 'on' | 'off'

async function node(lab: string, name: string): Promise<NodeContainer> {
  await requireEngine()
  const all = await listNodeContainers(lab)
  if (all.length === 0) throw new DrError({ code: 'lab.not-up', message: `lab ${lab} is not up`, hint: 'run `dr lab up`', exit: 'usage' })
  const n = all.find((c) => c.name === name)
  if (!n) throw new DrError({ code: 'lab.no-such-node', message: `lab ${lab} has no node ${name} (nodes: ${all.map((c) => c.name).join(', ')})`, exit: 'usage' })
  return n
}

export const powerOf = (n: NodeContainer): LabPower => (n.state === 'running' ? 'on' : 'off')

export async function labPowerStatus(lab: string, name: string): Promise<LabPower> {
  return powerOf(await node(lab, name))
}

/** Switch a node's power; returns the state before. Idempotent: an off node stays off, an on node on. */
export async function labPower(lab: string, name: string, want: LabPower): Promise<LabPower> {
  const n = await node(lab, name)
  const was = powerOf(n)
  if (was === want) return was
  if (want === 'off') await docker(['kill', n.container], { doing: `power off ${name}` })
  else {
    await docker(['start', n.container], { doing: `power on ${name}` })
    await waitForNode({ name: n.name, site: n.site, roles: n.roles as LabNode['roles'], ip: n.ip, container: n.container })
  }
  return was
}
