// Which site a scenario breaks and which one survives, from the inventory and the operator's options (pure).
import { DrError } from '../../core/error.ts'
import type { Inventory } from '../../inventory/types.ts'
import { hostsInSite } from '../../inventory/types.ts'

const etcdIn = (inv: Inventory, site: string) => hostsInSite(inv, site).filter((h) => h.roles.includes('etcd')).map((h) => h.name)

const usage = (message: string, hint?: string) => new DrError({ code: 'drill.bad-scenario', message, hint, exit: 'usage' })

/**
 * The lost site: --site, else the site holding the most etcd members (losing it loses quorum: the interesting
 * case). The survivor: --survivor, else the other site with the most etcd members.
 */
export function lostAndSurvivor(inv: Inventory, params: { site?: string; survivor?: string }): { lost: string; survivor: string } {
  const sites = Object.keys(inv.sites)
  for (const s of [params.site, params.survivor]) {
    if (s !== undefined && !sites.includes(s)) throw usage(`site "${s}" is not in the inventory (sites: ${sites.join(', ')})`)
  }
  const byMembers = [...sites].sort((a, b) => etcdIn(inv, b).length - etcdIn(inv, a).length)
  const lost = params.site ?? byMembers[0]
  const survivor = params.survivor ?? byMembers.find((s) => s !== lost && etcdIn(inv, s).length > 0)
  if (!survivor) throw usage(`no other site than ${lost} has an etcd member: nothing could survive the loss of site ${lost}`)
  if (survivor === lost) throw usage(`the lost site and the surviving site are both ${lost}`)
  if (etcdIn(inv, survivor).length === 0) throw usage(`site ${survivor} has no etcd member to fail over to`)
  return { lost, survivor }
}

export const etcdHosts = (inv: Inventory) => Object.values(inv.hosts).filter((h) => h.roles.includes('etcd')).map((h) => h.name)
export { etcdIn }
