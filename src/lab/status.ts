// `dr lab status`: the lab's nodes as docker sees them, and the state of the control-plane containers inside.
import { requireEngine } from './docker.ts'
import { partitionedFrom } from './faults.ts'
import { innerContainers } from './inner-docker.ts'
import { listNodeContainers } from './nodes.ts'
import type { LabNode } from './topology.ts'

export interface NodeStatus {
  name: string
  site: string
  roles: string[]
  ip: string
  container: string
  /** docker's state of the node container: running, exited … */
  state: string
  etcd?: string
  apiserver?: string
  kubelet?: string
  /** Addresses this node drops traffic with (dr lab partition). */
  partitionedFrom: string[]
}

export async function labStatus(lab: string): Promise<NodeStatus[]> {
  await requireEngine()
  const nodes = await listNodeContainers(lab)
  const rows = await Promise.all(
    nodes.map(async (c): Promise<NodeStatus> => {
      const base = { name: c.name, site: c.site, roles: c.roles, ip: c.ip, container: c.container, state: c.state, partitionedFrom: [] as string[] }
      if (c.state !== 'running') return base
      const inner = await innerContainers({ ...c, roles: c.roles } as LabNode)
      const of = (name: string, has: boolean) => (has ? (inner.get(name) ?? 'missing') : undefined)
      return {
        ...base,
        etcd: of('etcd', c.roles.includes('etcd')),
        apiserver: of('kube-apiserver', c.roles.includes('controlplane')),
        kubelet: of('kubelet', true),
        partitionedFrom: await partitionedFrom(c),
      }
    }),
  )
  return rows
}
