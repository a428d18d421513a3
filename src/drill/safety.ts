// Where a drill may run: on a dr lab without asking, on any other inventory only when the operator names the
// cluster with --allow-destructive-drills (pure, so the refusal is tested without a cluster).
import { DrError } from '../core/error.ts'
import type { Inventory } from '../inventory/types.ts'

/** The lab's name when every host of the inventory is a lab node (`dr lab up` labels them), else undefined. */
export function labName(inv: Inventory): string | undefined {
  const hosts = Object.values(inv.hosts)
  if (hosts.length === 0) return undefined
  const prefix = inv.cluster === 'lab' ? 'dr-lab-' : `dr-lab-${inv.cluster}-`
  return hosts.every((h) => h.labels['dr.lab/container'] === `${prefix}${h.name}`) ? inv.cluster : undefined
}

export function checkAllowed(inv: Inventory, allow: string | undefined): { lab?: string } {
  const lab = labName(inv)
  if (lab) return { lab }
  if (allow === inv.cluster) return {}
  throw new DrError({
    code: 'drill.not-a-lab',
    message:
      allow === undefined
        ? `${inv.file} is not a dr lab: a drill breaks the cluster ${inv.cluster} on purpose (powers off a site, wipes etcd)`
        : `--allow-destructive-drills names "${allow}", but this inventory's cluster is "${inv.cluster}"`,
    hint: `to drill a real cluster, say which one: --allow-destructive-drills ${inv.cluster}; or drill the lab (dr lab up)`,
    exit: 'refused',
  })
}
