// What the member and failback runbooks share beyond etcd: which apiservers there are to repoint, whether every
// one of them lists exactly the members, and the whole-cluster verification a runbook ends with.
import { DrError } from '../../src/core/error.ts'
import { connectWithQuorum } from '../../src/etcd/membership.ts'
import { waitWritable } from '../../src/etcd/ops.ts'
import { hexId } from '../../src/etcd/learner.ts'
import type { Inventory } from '../../src/inventory/types.ts'
import { hostsWithRole } from '../../src/inventory/types.ts'
import { memberEndpoint, type TransportSource } from '../../src/etcd/client.ts'
import { componentOf } from '../steps/containers.ts'
import { etcdServersHold, etcdServersOf } from '../steps/kube.ts'
import type { Step } from '../../src/runbook/types.ts'
import { isDrError } from '../../src/core/error.ts'

interface Ctx {
  inv: Inventory
  conns: TransportSource
}


/** Controlplane hosts that answer and have a kube-apiserver (container, or manifest live or stopped); the others are listed as skipped. */
export async function apiserverHosts(ctx: Ctx, exclude: string[] = []): Promise<{ hosts: string[]; skipped: string[] }> {
  const hosts: string[] = []
  const skipped: string[] = []
  await Promise.all(
    hostsWithRole(ctx.inv, 'controlplane')
      .filter((h) => !exclude.includes(h.name))
      .map(async (h) => {
        try {
          const t = await ctx.conns.get(h.name)
          const c = componentOf(ctx.inv, t, 'kube-apiserver')
          if (await c.state()) hosts.push(h.name)
          else skipped.push(`${h.name} (no kube-apiserver ${c.kind === 'container' ? `container ${ctx.inv.kubernetes.apiserverContainer}` : 'static pod'})`)
        } catch (e) {
          // A host that cannot be reached has no apiserver to repoint now; the plan says so.
          skipped.push(`${h.name} (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`)
        }
      }),
  )
  const order = Object.keys(ctx.inv.hosts)
  hosts.sort((a, b) => order.indexOf(a) - order.indexOf(b))
  return { hosts, skipped }
}

/** Every named apiserver lists exactly `urls` in --etcd-servers. Returns report lines; throws when one does not. */
export async function verifyEtcdServers(ctx: Ctx, hosts: string[], urls: string[]): Promise<string[]> {
  const out: string[] = []
  for (const h of hosts) {
    const s = await componentOf(ctx.inv, await ctx.conns.get(h), 'kube-apiserver').state()
    const servers = s ? etcdServersOf(s.argv) : []
    // Exactly the members, or (kubeadm's way) its own member through loopback while that member is one of them.
    if (!s || !etcdServersHold(servers, urls, memberEndpoint(ctx.inv, h)) || !s.running) {
      throw new DrError({
        code: 'member.unverified',
        message: `kube-apiserver on ${h} ${s ? `${s.running ? 'runs' : 'is not running'} with --etcd-servers=${servers.join(',')}` : 'does not exist'}; want ${urls.join(',')}`,
        host: h,
        exit: 'unverified',
        hint: 'run again: the apiserver steps resume',
      })
    }
    out.push(`kube-apiserver on ${h}: --etcd-servers=${servers.join(',')}`)
  }
  return out
}

/** Quorum read and write, and the member list: every member started and voting, the named hosts among them. */
export async function verifyMembers(ctx: Ctx, mustInclude: string[], mustExclude: string[] = []): Promise<string[]> {
  const { conn, m } = await connectWithQuorum(ctx.conns, ctx.inv, hostsWithRole(ctx.inv, 'etcd').map((h) => h.name).filter((h) => !mustExclude.includes(h)))
  try {
    await waitWritable(conn.client, `member-verify-${Date.now()}`, 15_000, m.via)
    const bad = m.members.filter((x) => x.isLearner || !x.name)
    const addrOf = (h: string) => ctx.inv.hosts[h].address
    const has = (h: string) => m.members.some((x) => x.peerURLs.some((u) => new URL(u).hostname === addrOf(h)))
    const missing = mustInclude.filter((h) => !has(h))
    const extra = mustExclude.filter(has)
    if (bad.length || missing.length || extra.length) {
      throw new DrError({
        code: 'member.unverified',
        message: [
          bad.length ? `not started or still learners: ${bad.map((x) => x.name || hexId(x.ID)).join(', ')}` : '',
          missing.length ? `not members: ${missing.join(', ')}` : '',
          extra.length ? `still members: ${extra.join(', ')}` : '',
        ].filter(Boolean).join('; '),
        exit: 'unverified',
        hint: 'run again: the runbook resumes',
      })
    }
    return [`quorum read and write through ${m.via}: ok`, `members (${m.members.length}, all started and voting): ${m.members.map((x) => x.name).join(', ')}`]
  } finally {
    await conn.close()
  }
}

/**
 * A step whose verification is read again a few times before it counts as failed: an apiserver just restarted (its
 * kubelet too) can miss one 3-second /readyz on a loaded host and answer the next.
 */
export function patient<F>(s: Step<F>, attempts = 4, pauseMs = 3000): Step<F> {
  return {
    ...s,
    async verify(ctx) {
      for (let i = 1; ; i++) {
        try {
          return await s.verify(ctx)
        } catch (e) {
          if (i >= attempts || !isDrError(e) || e.exit !== 'unverified') throw e
          ctx.out.progress(`  ${s.title}: not yet (${e.message}); reading again in ${pauseMs / 1000} s`)
          await new Promise((r) => setTimeout(r, pauseMs))
        }
      }
    },
  }
}
