// How to move a lost Node's pods, by Kubernetes version (pure). The node.kubernetes.io/out-of-service taint only
// makes pod GC delete the evicted pods where NodeOutOfServiceVolumeDetach is on: alpha in 1.24 (behind the gate),
// beta and on by default in 1.26, GA in 1.28. Before that, a tainted dead Node's pods stay Terminating forever
// (seed 003 on 1.20): the Node must be deleted, and pod GC then removes its orphaned pods.
import type { ServerVersion } from './client.ts'

export type Eviction = 'taint-out-of-service' | 'delete-node'

export interface EvictionChoice {
  method: Eviction
  reason: string
}

export function chooseEviction(v: Pick<ServerVersion, 'major' | 'minor' | 'gitVersion'>, deleteNodes: boolean): EvictionChoice {
  if (deleteNodes) return { method: 'delete-node', reason: '--delete-nodes' }
  if (v.major > 1 || v.minor >= 26) {
    return { method: 'taint-out-of-service', reason: `Kubernetes ${v.gitVersion}: the out-of-service taint moves pods (NodeOutOfServiceVolumeDetach, on from 1.26)` }
  }
  return {
    method: 'delete-node',
    reason: `Kubernetes ${v.gitVersion}: the out-of-service taint does not move pods before 1.26 (1.24–1.25 only behind the NodeOutOfServiceVolumeDetach gate), so the lost Nodes are deleted and pod GC removes their pods`,
  }
}
