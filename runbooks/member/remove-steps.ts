// The steps that take one member out of the cluster without breaking quorum: `member remove` through a member with
// quorum (refused when the members left would not have a healthy quorum, or when it is the only healthy one), then
// its etcd stopped and kept aside with its data, so it cannot come back by itself (RKE: the container renamed
// etcd-removed-<time>; kubeadm: the manifest moved to /etc/kubernetes/dr/stopped/). Nothing is deleted.
import { DrError } from '../../src/core/error.ts'
import { connectWithQuorum, selfView, type Membership } from '../../src/etcd/membership.ts'
import { hexId, memberOfHost, removeVerdict, sameId, type MemberHealth } from '../../src/etcd/learner.ts'
import type { Inventory } from '../../src/inventory/types.ts'
import type { Change, Step, StepContext } from '../../src/runbook/types.ts'
import { ContainerComponent, StaticPodComponent } from '../../src/component/index.ts'
import { componentOf } from '../steps/containers.ts'
import { candidatesFor } from './view.ts'
import { readMembership } from '../../src/etcd/membership.ts'

const tagNow = () => new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')

/** Each listed member, healthy when its inventory host's etcd answers as that member. */
export async function memberHealth(ctx: { inv: Inventory; conns: StepContext<unknown>['conns'] }, m: Membership): Promise<Array<MemberHealth & { host?: string }>> {
  return Promise.all(
    m.members.map(async (x) => {
      const h = Object.values(ctx.inv.hosts).find((y) => x.peerURLs.some((u) => new URL(u).hostname === y.address))
      if (!h) return { ID: x.ID, name: x.name, isLearner: x.isLearner, healthy: false }
      const s = await selfView(ctx.conns, ctx.inv, h.name)
      return { ID: x.ID, name: x.name, isLearner: x.isLearner, healthy: s.answers && sameId(s.memberId, x.ID), host: h.name }
    }),
  )
}

export function refuseRemoval(host: string, reason: string): never {
  throw new DrError({
    code: 'member.quorum-at-risk',
    message: `removing ${host} would break quorum: ${reason}`,
    host,
    exit: 'refused',
    hint: 'bring the down members back first (dr status shows them), or replace a dead member: dr member replace <dead host> --with <new host>',
  })
}

export interface MemberRemoveOptions {
  via?: string[]
  /** Stop and keep aside the host's etcd and data (default true; false for a dead host that cannot be reached). */
  retire?: boolean
}

export function memberRemoveSteps<F>(host: string, opts: MemberRemoveOptions = {}): Step<F>[] {
  const candidates = (inv: Inventory) => candidatesFor(inv, host, opts.via)
  const remove: Step<F> = {
    id: `member-remove-${host}`,
    title: `Remove ${host}'s member from the cluster (quorum kept)`,
    host,
    destructive: true,
    async check(ctx) {
      const m = await readMembership(ctx.conns, ctx.inv, candidates(ctx.inv))
      const me = memberOfHost(m.members, ctx.inv.hosts[host].address)
      if (!me) return []
      const v = removeVerdict(await memberHealth(ctx, m), me.ID)
      if (!v.ok) refuseRemoval(host, v.reason)
      return [{ host: m.via, destructive: true, summary: `member remove ${hexId(me.ID)} (${me.name || 'never started'}, ${me.peerURLs.join(',')}); ${v.remaining} members left, quorum ${v.quorum}, ${v.healthyAfter} healthy` }]
    },
    async apply(ctx) {
      const { conn, m } = await connectWithQuorum(ctx.conns, ctx.inv, candidates(ctx.inv))
      try {
        const me = memberOfHost(m.members, ctx.inv.hosts[host].address)
        if (!me) return
        const v = removeVerdict(await memberHealth(ctx, m), me.ID)
        if (!v.ok) refuseRemoval(host, v.reason)
        await conn.client.cluster.memberRemove({ ID: me.ID })
      } finally {
        await conn.close()
      }
    },
    async verify(ctx) {
      const m = await readMembership(ctx.conns, ctx.inv, candidates(ctx.inv))
      if (memberOfHost(m.members, ctx.inv.hosts[host].address)) {
        throw new DrError({ code: 'member.unverified', message: `${host} is still in the member list`, host, exit: 'unverified' })
      }
      return `${m.members.length} members left: ${m.members.map((x) => x.name || hexId(x.ID)).join(', ')}`
    },
  }
  if (opts.retire === false) return [remove]

  const retire: Step<F> = {
    id: `member-retire-${host}`,
    title: `Stop etcd on ${host} and keep it and its data aside (stopped and kept, never deleted)`,
    host,
    destructive: true,
    async check(ctx) {
      const t = await ctx.conns.get(host)
      const comp = componentOf(ctx.inv, t, 'etcd')
      const s = await comp.state()
      const dir = ctx.inv.etcd.dataDir
      const changes: Change[] = []
      if (comp instanceof ContainerComponent) {
        if (s) changes.push({ host, destructive: true, summary: `stop ${comp.container} (restart policy off) and rename it ${comp.container}-removed-<time>` })
      } else if (comp instanceof StaticPodComponent && s && (!s.stopped || s.container?.State?.Running)) {
        changes.push({ host, destructive: true, summary: `stop the etcd static pod: move ${comp.manifest} to ${comp.stash} (kept there)` })
      }
      if ((await t.$`test -d ${`${dir}/member`}`.nothrow()).ok) changes.push({ host, destructive: true, summary: `move ${dir} to ${dir}.dr-removed-<time>` })
      return changes
    },
    async apply(ctx) {
      const t = await ctx.conns.get(host)
      const comp = componentOf(ctx.inv, t, 'etcd')
      const dir = ctx.inv.etcd.dataDir
      const tag = tagNow()
      const s = await comp.state()
      if (comp instanceof ContainerComponent) {
        if (s) {
          await comp.stop({ timeoutMs: 10_000 })
          await t.$`docker rename ${comp.container} ${`${comp.container}-removed-${tag}`}`
        }
      } else if (s) {
        await comp.stop()
      }
      await t.$`if [ -d ${`${dir}/member`} ]; then mv ${dir} ${`${dir}.dr-removed-${tag}`}; fi`
    },
    async verify(ctx) {
      const t = await ctx.conns.get(host)
      const comp = componentOf(ctx.inv, t, 'etcd')
      const s = await comp.state()
      if (comp instanceof ContainerComponent) {
        if (s) throw new DrError({ code: 'member.unverified', message: `${comp.container} still exists on ${host}`, host, exit: 'unverified' })
        const kept = await t.$`docker ps -a --format {{.Names}}`.text()
        return `kept: ${kept.split('\n').filter((n) => n.startsWith(`${comp.container}-removed-`)).join(', ')}`
      }
      if (s && (!s.stopped || s.container?.State?.Running)) throw new DrError({ code: 'member.unverified', message: `etcd still runs on ${host} (${s.where})`, host, exit: 'unverified' })
      const data = (await t.$`ls -d ${ctx.inv.etcd.dataDir}.dr-removed-* 2>/dev/null || true`.text()).split('\n').filter(Boolean)
      return `kept: ${s ? s.where : 'no manifest'}${data.length ? `, ${data.join(', ')}` : ''}`
    },
  }
  return [remove, retire]
}
