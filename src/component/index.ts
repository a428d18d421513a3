// Which kind of component a host has: from the inventory's flavor (rke → containers; kubeadm, kind → static
// pods), overridden per host by the label `dr.component-kind: container | static-pod`. A static pod's runtime:
// containerd on kind, docker otherwise, overridden by the label `dr.container-runtime: docker | containerd`.
import type { Inventory } from '../inventory/types.ts'
import type { Transport } from '../transport/types.ts'
import { ContainerComponent } from './container.ts'
import { runtimeFor } from './runtime.ts'
import { StaticPodComponent, MANIFEST_DIR, DR_MANIFEST_DIR } from './static-pod.ts'
import type { Component, ComponentKind, ComponentName } from './types.ts'

export type { Component, ComponentEdit, ComponentKind, ComponentName, ComponentState, ReconfigureResult } from './types.ts'
export { ContainerComponent, disableRestart, tryInspect } from './container.ts'
export { StaticPodComponent, writeAtomic, MANIFEST_DIR, DR_MANIFEST_DIR } from './static-pod.ts'
export { CONTAINER_RUNTIME_LABEL, runtimeFor, runtimeName, type PodRuntime, type RuntimeName } from './runtime.ts'

export const COMPONENT_KIND_LABEL = 'dr.component-kind'

export function componentKind(inv: Inventory, host: string): ComponentKind {
  const o = inv.hosts[host]?.labels?.[COMPONENT_KIND_LABEL]
  if (o === 'container' || o === 'static-pod') return o
  return inv.flavor === 'rke' ? 'container' : 'static-pod'
}

/** The inventory's container name of a component (RKE). */
export const containerNameOf = (inv: Inventory, name: ComponentName) => (name === 'etcd' ? inv.etcd.container : inv.kubernetes.apiserverContainer)

/** The component a container name from the inventory stands for; undefined for any other container. */
export function componentNamed(inv: Inventory, container: string): ComponentName | undefined {
  if (container === inv.etcd.container) return 'etcd'
  if (container === inv.kubernetes.apiserverContainer) return 'kube-apiserver'
  return undefined
}

/** The host's etcd or kube-apiserver, reached through `t` (t.host is the inventory host name). */
export function componentOf(inv: Inventory, t: Transport, name: ComponentName): Component {
  return componentKind(inv, t.host) === 'container' ? new ContainerComponent(t, name, containerNameOf(inv, name)) : new StaticPodComponent(t, name, MANIFEST_DIR, DR_MANIFEST_DIR, runtimeFor(inv, t.host))
}
