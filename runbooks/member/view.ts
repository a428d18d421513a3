// What a member runbook's checks read: the membership (through a member with quorum) and one host's place in it.
import type { Inventory } from '../../src/inventory/types.ts'
import { hostsWithRole } from '../../src/inventory/types.ts'
import type { TransportSource } from '../../src/etcd/client.ts'
import { memberEndpoint } from '../../src/etcd/client.ts'
import { memberOfHost, type ListedPeer } from '../../src/etcd/learner.ts'
import { joinState, readMembership, selfView, type JoinState, type Membership, type SelfView } from '../../src/etcd/membership.ts'

export interface HostJoin {
  m: Membership
  self: SelfView
  state: JoinState
  listed?: ListedPeer
}

interface Ctx {
  inv: Inventory
  conns: TransportSource
}

export const peerUrlOf = (inv: Inventory, host: string) => `https://${inv.hosts[host].address}:${inv.etcd.peerPort}`

/** Where the cluster is reached: the given hosts, else every other etcd host of the inventory. */
export const candidatesFor = (inv: Inventory, host: string, via?: string[]) =>
  (via ?? hostsWithRole(inv, 'etcd').map((h) => h.name)).filter((h) => h !== host)

export async function hostJoin(ctx: Ctx, host: string, via?: string[]): Promise<HostJoin> {
  const [m, self] = await Promise.all([readMembership(ctx.conns, ctx.inv, candidatesFor(ctx.inv, host, via)), selfView(ctx.conns, ctx.inv, host)])
  const address = ctx.inv.hosts[host].address
  return { m, self, state: joinState(m, address, self), listed: memberOfHost(m.members, address) }
}

/** Client URLs of the voting members, each as its inventory endpoint when it is an inventory host. */
export function votingClientUrls(inv: Inventory, members: readonly ListedPeer[], extra: string[] = [], without: string[] = []): string[] {
  const urls: string[] = []
  for (const h of hostsWithRole(inv, 'etcd')) {
    if (without.includes(h.name)) continue
    const m = memberOfHost(members, h.address)
    if ((m && !m.isLearner) || extra.includes(h.name)) urls.push(memberEndpoint(inv, h.name))
  }
  return urls
}
