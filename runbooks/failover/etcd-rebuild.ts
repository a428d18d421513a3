// The destructive middle of a failover: the survivor's data dir is copied aside (after proving there is room),
// etcd is re-created with --force-new-cluster and itself as the only member, then again without the flag, and
// any member outside the site still listed is removed. Each check reads the world, and learns from the engine
// which earlier steps will change it in this run, so the plan shows what the apply will do.
import path from 'node:path'
import { DrError } from '../../src/core/error.ts'
import { connectMember } from '../../src/etcd/client.ts'
import { waitWritable } from '../../src/etcd/ops.ts'
import { getFlag, hasFlag } from '../../src/container/command-flags.ts'
import type { Step, StepContext } from '../../src/runbook/types.ts'
import { componentOf, reconfigureStep, type ComponentEdit, type ComponentState } from '../steps/containers.ts'
import { askOnce, inSite, linearizableRead, survivorRunsAlone, unverified, type FailoverFacts } from './facts.ts'

/** Earlier steps of this run that stop or replace the survivor's etcd: once any of them runs, a later one has work. */
export const REBUILD_STEPS = ['copy-data-aside', 'force-new-cluster', 'drop-force-flag', 'restore-snapshot', 'start-restored']
export const rebuiltBefore = (ctx: StepContext<FailoverFacts>, upTo: string) =>
  REBUILD_STEPS.slice(0, REBUILD_STEPS.indexOf(upTo)).some((id) => ctx.willChange?.has(id))

const copyPath = (ctx: StepContext<FailoverFacts>) => `${ctx.inv.etcd.dataDir}.dr-before-failover-${ctx.facts.decision.tag}`

/** Refuse before etcd is stopped when the copy cannot fit (free space of the copy's filesystem vs the data dir). */
async function requireRoom(ctx: StepContext<FailoverFacts>): Promise<string> {
  const host = ctx.facts.decision.survivor
  const t = await ctx.conns.get(host)
  const dir = ctx.inv.etcd.dataDir
  const parent = dir.replace(/\/[^/]+\/?$/, '') || '/'
  const usedKb = Number((await t.$.with({ doing: `measure ${dir}` })`du -sk ${dir}`.text()).split(/\s+/)[0])
  const df = (await t.$.with({ doing: `read the free space of ${parent}` })`df -Pk ${parent}`.text()).trim().split('\n').pop() ?? ''
  const availKb = Number(df.split(/\s+/)[3])
  if (!Number.isFinite(usedKb) || !Number.isFinite(availKb)) {
    throw new DrError({ code: 'failover.space-unknown', message: `cannot tell whether ${copyPath(ctx)} fits on ${host} (du: ${usedKb} KiB, df: ${df})`, host, hint: 'check du and df on the host, then run again' })
  }
  // etcd keeps writing until it is stopped: a margin of a tenth and 16 MiB.
  const needKb = Math.ceil(usedKb * 1.1) + 16 * 1024
  if (availKb < needKb) {
    throw new DrError({
      code: 'failover.no-space',
      message: `the copy of ${dir} (${Math.round(usedKb / 1024)} MiB) does not fit in ${parent} on ${host}: ${Math.round(availKb / 1024)} MiB free, ${Math.round(needKb / 1024)} MiB needed; etcd was not stopped, nothing was changed`,
      host,
      doing: 'check for room before copying the data dir aside',
      hint: `free space in ${parent} on ${host} (old copies ${dir}.dr-*, logs), then run the failover again: it resumes`,
      exit: 'refused',
    })
  }
  return `${Math.round(availKb / 1024)} MiB free for ${Math.round(usedKb / 1024)} MiB`
}

export const copyDataAside: Step<FailoverFacts> = {
  id: 'copy-data-aside',
  title: "Stop the survivor's etcd and copy its data dir aside",
  destructive: true,
  async check(ctx) {
    const d = ctx.facts.decision
    const t = await ctx.conns.get(d.survivor)
    const copy = copyPath(ctx)
    if ((await t.$`test -d ${copy}`.nothrow()).ok) return []
    const etcd = componentOf(ctx.inv, t, 'etcd')
    const how = etcd.kind === 'container' ? 'restart policy off' : 'its manifest moved out of the manifests directory'
    return [
      {
        host: d.survivor,
        destructive: true,
        summary: `check there is room, stop etcd (${how}), then copy ${ctx.inv.etcd.dataDir} to ${copy}`,
        command: `${etcd.stopCommand()} && cp -a ${ctx.inv.etcd.dataDir} ${copy} && sync`,
      },
    ]
  },
  async apply(ctx) {
    const d = ctx.facts.decision
    const t = await ctx.conns.get(d.survivor)
    const etcd = componentOf(ctx.inv, t, 'etcd')
    const dir = ctx.inv.etcd.dataDir
    const copy = copyPath(ctx)
    const room = await requireRoom(ctx)
    ctx.journal?.write({ event: 'note', step: 'copy-data-aside', host: d.survivor, evidence: room })
    // Stopped so that it stays stopped across a reboot (restart policy off / manifest moved out); absent: nothing runs.
    // A 1 s grace: on SIGTERM a member whose peers are dead spends 5-12 s asking each for its version (seen on the
    // lab) before it exits, and nothing of that matters here; etcd's WAL is fsynced at every commit and bbolt is
    // transactional, so the SIGKILL after it loses nothing (etcd's own robustness tests kill members the same way).
    await etcd.stop({ timeoutMs: etcd.kind === 'container' ? 1_000 : 90_000 })
    // A copy is only complete once renamed: a run killed mid-copy leaves a .part that the next run redoes. It is on
    // disk before it is renamed, and the rename after it: each of its files and directories fsynced by name (`sync
    // FILE…`; an older sync, everything), not the whole filesystem, whose other dirty data is not this run's wait.
    const parent = path.posix.dirname(copy)
    const cp = await t.$`rm -rf ${copy}.part && cp -a ${dir} ${copy}.part && { find ${copy}.part -exec sync -- {} + 2>/dev/null || sync; } && mv ${copy}.part ${copy} && { sync -- ${parent} 2>/dev/null || sync; }`.nothrow()
    if (!cp.ok) {
      // Nothing of the survivor was changed but its running state: give it back before failing.
      const rm = await t.$`rm -rf ${copy}.part`.nothrow()
      const back = await etcd.start({ timeoutMs: 60_000 }).then(() => '', (e: unknown) => (e instanceof Error ? e.message : String(e)))
      const ok = rm.ok && !back
      throw new DrError({
        code: 'failover.copy-failed',
        message: `copying ${dir} aside on ${d.survivor} failed; ${ok ? 'the partial copy was removed and etcd started again' : 'the partial copy and etcd need a look'}`,
        host: d.survivor,
        doing: `cp -a ${dir} ${copy}.part`,
        exitStatus: cp.exitCode,
        stderr: cp.stderr + (rm.ok ? '' : `\n${rm.stderr}`) + (back ? `\n${back}` : ''),
        hint: `fix the cause (free space?), then run the failover again: it resumes`,
      })
    }
  },
  async verify(ctx) {
    const t = await ctx.conns.get(ctx.facts.decision.survivor)
    const copy = copyPath(ctx)
    const size = await t.$`du -sh ${copy} | cut -f1`.text()
    return `${copy} (${size.trim()})`
  },
}

const running = (s: ComponentState | undefined) => !!s?.running

/** For the fault-injection tests only (a flag etcd refuses, so the new container dies): never set in production. */
const injected = () => (process.env.DR_TEST_INJECT_ETCD_ARG ? [process.env.DR_TEST_INJECT_ETCD_ARG] : [])

/**
 * The forced etcd is a one-member cluster that lives for seconds, so it runs tuned for a fast start:
 * - `--snapshot-count=1`: it writes a raft snapshot as soon as it applies anything, so the one-member membership is
 *   in a snapshot and the etcd without the flag (next step) starts as a single node "recovering from snapshot":
 *   etcd then fast-forwards its election ticks (etcdserver adjustTicks) instead of waiting a whole election timeout;
 * - `--heartbeat-interval=100 --election-timeout=1000`: with no peer to hear from, the election timeout only delays
 *   its own campaign (RKE sets 5000 ms).
 * The survivor's own values are recorded in the decision and put back by the next step, which `done` checks.
 */
export const FORCED_TUNING: Record<string, string> = { '--snapshot-count': '1', '--heartbeat-interval': '100', '--election-timeout': '1000' }
const forcedTuning = (f: FailoverFacts): Record<string, string> => (f.decision.survivorTuning ? FORCED_TUNING : {})

/** The edit that puts the survivor's own values back (nothing when the decision did not record them). */
export function restoredTuning(f: FailoverFacts): { setArgs: Record<string, string>; removeArgs: string[] } {
  const out = { setArgs: {} as Record<string, string>, removeArgs: [] as string[] }
  for (const [flag, v] of Object.entries(f.decision.survivorTuning ?? {})) {
    if (v === null) out.removeArgs.push(flag)
    else out.setArgs[flag] = v
  }
  return out
}

/** The survivor's own values are back (or were never changed). */
export const tuningRestored = (f: FailoverFacts, argv: string[]) => Object.entries(f.decision.survivorTuning ?? {}).every(([flag, v]) => (getFlag(argv, flag) ?? null) === v)

export function forceNewCluster(survivor: string): Step<FailoverFacts> {
  const edit = (f: FailoverFacts): ComponentEdit => ({
    setArgs: { '--initial-cluster': `${f.survivorName}=${f.survivorPeerUrl}`, ...forcedTuning(f) },
    addArgs: ['--force-new-cluster', ...injected()],
    // Off while forced: a host reboot must not force a new cluster a second time. (A static pod has no policy of
    // its own: the kubelet restarts it; the next step, seconds later, takes the flag out.)
    restartPolicy: { Name: 'no' },
  })
  return reconfigureStep<FailoverFacts>({
    id: 'force-new-cluster',
    title: `Re-create etcd on ${survivor} with --force-new-cluster and itself as the only member`,
    host: survivor,
    component: 'etcd',
    edit,
    async done(ctx, s) {
      // The copy aside of this run stops etcd: then this step has work, whatever etcd says now.
      if (rebuiltBefore(ctx, 'force-new-cluster') || !running(s)) return false
      return survivorRunsAlone(ctx)
    },
    async after(ctx) {
      const conn = await connectMember(ctx.conns, ctx.inv, survivor)
      try {
        const ms = await waitWritable(conn.client, `forced-${ctx.facts.decision.tag}`, 60_000, survivor)
        return `leader elected and a write accepted ${(ms / 1000).toFixed(1)} s after start`
      } finally {
        await conn.close()
      }
    },
  })
}

export function dropForceFlag(survivor: string): Step<FailoverFacts> {
  return reconfigureStep<FailoverFacts>({
    id: 'drop-force-flag',
    title: `Re-create etcd on ${survivor} without --force-new-cluster, restart policy always`,
    host: survivor,
    component: 'etcd',
    // --initial-cluster stays the survivor alone: ignored on an existing data dir, and true to what the cluster is.
    edit: (f) => {
      const back = restoredTuning(f)
      return {
        setArgs: { '--initial-cluster': `${f.survivorName}=${f.survivorPeerUrl}`, ...back.setArgs },
        removeArgs: ['--force-new-cluster', ...back.removeArgs],
        restartPolicy: { Name: 'always' },
      }
    },
    async done(ctx, s) {
      if (rebuiltBefore(ctx, 'drop-force-flag') || !s || !running(s)) return false
      // restartPolicy is the container's; `always` for a static pod (the kubelet restarts it).
      if (hasFlag(s.argv, '--force-new-cluster') || s.restartPolicy !== 'always') return false
      if (!tuningRestored(ctx.facts, s.argv)) return false
      return survivorRunsAlone(ctx)
    },
    async after(ctx) {
      const conn = await connectMember(ctx.conns, ctx.inv, survivor)
      try {
        const ms = await waitWritable(conn.client, `unforced-${ctx.facts.decision.tag}`, 60_000, survivor)
        return `writable ${(ms / 1000).toFixed(1)} s after start`
      } finally {
        await conn.close()
      }
    },
  })
}

export const removeDeadMembers: Step<FailoverFacts> = {
  id: 'remove-dead-members',
  title: 'Remove every member outside the surviving site from the member list',
  async check(ctx) {
    const f = ctx.facts
    // The rebuild of this run (either method) makes a cluster of the survivor alone: nothing will be left here.
    if (REBUILD_STEPS.some((id) => ctx.willChange?.has(id))) return []
    const a = await askOnce(ctx, linearizableRead, 2000)
    if (!a.answered) {
      return f.deadHosts
        .filter((h) => ctx.inv.hosts[h].roles.includes('etcd'))
        .map((h) => ({ host: f.decision.survivor, summary: `make sure ${h}'s member is gone once the survivor is writable (remove it if still listed)` }))
    }
    const conn = await connectMember(ctx.conns, ctx.inv, f.decision.survivor)
    try {
      const members = (await conn.client.cluster.memberList({})).members
      return members
        .filter((m) => !inSite(ctx.inv, f.site, m))
        .map((m) => ({ host: f.decision.survivor, summary: `member remove ${m.name} (${BigInt(m.ID).toString(16)}, ${m.peerURLs.join(',')})`, destructive: true }))
    } finally {
      await conn.close()
    }
  },
  async apply(ctx) {
    const f = ctx.facts
    const conn = await connectMember(ctx.conns, ctx.inv, f.decision.survivor)
    try {
      const members = (await conn.client.cluster.memberList({})).members
      for (const m of members.filter((x) => !inSite(ctx.inv, f.site, x))) {
        await conn.client.cluster.memberRemove({ ID: m.ID })
      }
    } finally {
      await conn.close()
    }
  },
  async verify(ctx) {
    if (!(await survivorRunsAlone(ctx))) throw unverified('members outside the surviving site are still listed')
  },
}
