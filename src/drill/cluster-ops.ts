// Two things a drill does to a cluster that no operator command does: hand etcd's leadership to a member of a
// given site before a fault (so the survivor holds every acknowledged write: a leader commits only what it has
// itself persisted), and wait until `dr status` shows what the scenario expects (quorum lost, split brain).
import { DrError } from '../core/error.ts'
import type { Inventory } from '../inventory/types.ts'
import { connectMember, type TransportSource } from '../etcd/client.ts'
import { probeCluster } from '../etcd/status.ts'
import type { Output } from '../core/output.ts'
import type { StatusExpectation } from './types.ts'
import { runDr } from './dr-child.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function moveLeaderTo(conns: TransportSource, inv: Inventory, site: string): Promise<string> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const s = await probeCluster(conns, inv, { timeoutMs: 3000 })
    const leader = s.members.find((m) => m.isLeader && m.quorumRead)
    const target = s.members.find((m) => m.site === site && m.quorumRead && m.listed !== false)
    if (!leader || !target?.id) {
      throw new DrError({ code: 'drill.no-leader', message: `cannot move etcd's leadership to site ${site}: ${!leader ? 'no leader answers' : `no member of site ${site} answers`}`, exit: 'failed', hint: 'check `dr status`' })
    }
    if (leader.site === site) return `${leader.host} (site ${site}) leads`
    const c = await connectMember(conns, inv, leader.host, { callTimeoutMs: 10_000 })
    try {
      await c.client.maintenance.moveLeader({ targetID: BigInt(`0x${target.id}`).toString() })
    } finally {
      await c.close()
    }
    await sleep(1000)
  }
  const s = await probeCluster(conns, inv, { timeoutMs: 3000 })
  const leader = s.members.find((m) => m.isLeader && m.quorumRead)
  if (leader?.site === site) return `${leader.host} (site ${site}) leads`
  throw new DrError({ code: 'drill.no-leader', message: `etcd's leadership did not move to site ${site} (leader: ${leader?.host ?? 'none'})`, exit: 'failed' })
}

export interface StatusWait {
  ok: boolean
  code: number | null
  detail: string
}

/** What `dr status --json` printed, judged against an expectation (pure). */
export function judgeStatus(expect: StatusExpectation, code: number | null, doc: { verdict?: { hasQuorum?: boolean }; splitBrain?: string[] } | undefined): StatusWait {
  const quorum = !!doc?.verdict?.hasQuorum
  const split = doc?.splitBrain
  const seen = split ? `split brain: ${split.join(' and ')}` : quorum ? 'one quorum' : 'no quorum'
  const ok =
    expect === 'quorum-lost' ? !quorum && !split
    : expect === 'split-brain' ? !!split && split.length > 1
    : expect === 'quorum-kept' ? quorum && !split
    : quorum && !split && code === 0
  return { ok, code, detail: `dr status: ${seen} (exit ${code})` }
}

/** Run `dr status --json` until it shows the expectation or the time is up. */
export async function waitForStatus(ctx: { inv: Inventory; out: Output }, expect: StatusExpectation, timeoutMs: number): Promise<StatusWait> {
  const started = Date.now()
  let last: StatusWait = { ok: false, code: null, detail: 'dr status did not run' }
  while (Date.now() - started < timeoutMs) {
    const r = await runDr(['status', '--json', '-i', ctx.inv.file], ctx.out)
    let doc: Parameters<typeof judgeStatus>[2]
    try {
      doc = JSON.parse(r.stdout)
    } catch {
      doc = undefined // not JSON (dr failed before printing): judged as "no quorum", and polled again
    }
    last = judgeStatus(expect, r.code, doc)
    if (last.ok) return { ...last, detail: `${last.detail} after ${((Date.now() - started) / 1000).toFixed(1)} s` }
    await sleep(2000)
  }
  return { ...last, detail: `expected ${expect} within ${Math.round(timeoutMs / 1000)} s; last ${last.detail}` }
}

/** Inventory hosts whose etcd is listed as a member now, by peer address (for a scenario's plan). */
export async function liveMembers(conns: TransportSource, inv: Inventory): Promise<string[]> {
  const s = await probeCluster(conns, inv, { timeoutMs: 3000 })
  const listed = new Set(s.memberList.flatMap((m) => m.peerURLs.map((u) => new URL(u).hostname)))
  return Object.values(inv.hosts).filter((h) => listed.has(h.address)).map((h) => h.name)
}
