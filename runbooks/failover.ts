// Site failover for RKE clusters (seed 003, DESIGN.md §3): the site holding the etcd majority is gone; rebuild
// etcd from the best surviving member of the named site, prune the dead members, point the surviving apiservers
// at live members only, move the dead site's workloads, and prove it. Every step reads the world in `check`,
// so a run killed anywhere converges when started again.
import path from 'node:path'
import { DrError } from '../src/core/error.ts'
import { chooseSurvivor } from '../src/cluster/quorum.ts'
import { archiveDecision, readDecision, writeDecision, decisionPath, type FailoverDecision } from '../src/cluster/decision.ts'
import { probeCluster, type ClusterStatus } from '../src/etcd/status.ts'
import { connectMember, memberEndpoint } from '../src/etcd/client.ts'
import { keyCount, snapshotToFile, waitWritable } from '../src/etcd/ops.ts'
import { hostsInSite, hostsWithRole, type Inventory } from '../src/inventory/types.ts'
import type { Runbook, Step, StepContext } from '../src/runbook/types.ts'
import type { Etcd3 } from 'etcd3'
import { etcdContainer, recreateStep, type ContainerEdit } from './steps/containers.ts'
import { getFlag, hasFlag } from '../src/container/command-flags.ts'
import { processArgv } from '../src/container/inspect.ts'
import { apiserverSteps, nodeSteps, rkeConfigStep, verifyApiservers } from './steps/kube.ts'

export type Method = 'force-new-cluster' | 'restore'

export interface FailoverOptions {
  site: string
  method?: Method
  force?: boolean
  deleteNodes?: boolean
  rkeConfig?: string
}

export interface FailoverFacts {
  site: string
  failedSites: string[]
  method: Method
  status: ClusterStatus
  decision: FailoverDecision
  /** The decision was read back from an earlier, unfinished run. */
  resumed: boolean
  survivorReason: string
  /** etcd member name and peer URL of the survivor, from its container's flags. */
  survivorName: string
  survivorPeerUrl: string
  deadHosts: string[]
  /** Controlplane hosts of the surviving site: their apiservers are repointed, and dr talks to Kubernetes through them. */
  siteControlplanes: string[]
  /** The cluster already runs from the named site only (a finished or nearly finished failover). */
  alreadyFailedOver: boolean
}

const opt = (o: Record<string, unknown>) => o as unknown as FailoverOptions

export const failover: Runbook<FailoverFacts> = {
  name: 'failover',
  title: 'site failover',

  async assess(ctx) {
    const o = opt(ctx.options)
    const inv = ctx.inv
    if (!inv.sites[o.site]) {
      throw new DrError({
        code: 'failover.unknown-site',
        message: `site ${o.site} is not in the inventory (sites: ${Object.keys(inv.sites).join(', ')})`,
        hint: 'name the site that survived: dr failover --site <site>',
        exit: 'usage',
      })
    }
    const method: Method = o.method ?? 'force-new-cluster'
    const failedSites = Object.keys(inv.sites).filter((s) => s !== o.site)
    ctx.out.progress(`assessing ${hostsWithRole(inv, 'etcd').length} etcd members …`)
    const status = await probeCluster(ctx.conns, inv, { timeoutMs: 3000 })
    const siteHosts = new Set(hostsInSite(inv, o.site).map((h) => h.name))
    const listedOutside = status.members.filter((m) => m.listed && !siteHosts.has(m.host))
    const alreadyFailedOver = status.verdict.hasQuorum && status.memberList.length > 0 && listedOutside.length === 0
    const previous = readDecision(inv.stateDir, o.site)

    if (status.verdict.hasQuorum && !alreadyFailedOver && !o.force) {
      const ok = status.members.filter((m) => m.quorumRead).map((m) => m.host)
      throw new DrError({
        code: 'failover.quorum-present',
        message: `etcd still has quorum (a linearizable read succeeded through ${ok.join(', ')}): a failover would throw away a working cluster`,
        hint: 'if the other site is really gone and this is a stale view, check `dr status`; to force it anyway, add --force',
        exit: 'refused',
      })
    }

    let decision: FailoverDecision
    let reason: string
    if (previous && !previous.completedAt) {
      decision = previous
      reason = `resuming the failover decided at ${previous.decidedAt} (${decisionPath(inv.stateDir, o.site)})`
    } else if (previous && alreadyFailedOver) {
      decision = previous
      reason = `the failover decided at ${previous.decidedAt} is complete`
    } else {
      const choice = chooseSurvivor(status.members, o.site)
      if (!choice.survivor) {
        throw new DrError({
          code: 'failover.no-survivor',
          message: choice.reason,
          hint: `check the hosts of site ${o.site} with \`dr status\`; dr needs SSH to them and the etcd container running`,
        })
      }
      reason = choice.reason
      const tag = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')
      decision = { site: o.site, survivor: choice.survivor.host, method, decidedAt: new Date().toISOString(), tag }
      if (method === 'restore') decision.token = `dr-${o.site.toLowerCase()}-${tag.toLowerCase()}`
    }
    if (decision.method !== method && o.method) {
      throw new DrError({
        code: 'failover.method-changed',
        message: `an unfinished failover with --method ${decision.method} is in progress; it cannot switch to ${method}`,
        hint: `finish it with --method ${decision.method}, or remove ${decisionPath(inv.stateDir, o.site)} after checking the cluster by hand`,
        exit: 'refused',
      })
    }
    const t = await ctx.conns.get(decision.survivor)
    const c = await etcdContainer(t, inv)
    const argv = c ? processArgv(c) : []
    const survivorName = getFlag(argv, '--name') ?? `etcd-${decision.survivor}`
    const survivorPeerUrl = getFlag(argv, '--initial-advertise-peer-urls') ?? `https://${inv.hosts[decision.survivor].address}:${inv.etcd.peerPort}`
    return {
      site: o.site,
      failedSites,
      method: decision.method,
      status,
      decision,
      resumed: !!previous && !previous.completedAt,
      survivorReason: reason,
      survivorName,
      survivorPeerUrl,
      deadHosts: failedSites.flatMap((s) => hostsInSite(inv, s).map((h) => h.name)),
      siteControlplanes: hostsInSite(inv, o.site).filter((h) => h.roles.includes('controlplane')).map((h) => h.name),
      alreadyFailedOver,
    }
  },

  describe(f) {
    const m = f.status.members.find((x) => x.host === f.decision.survivor)
    const lines = [
      `surviving site: ${f.site}; lost: ${f.failedSites.join(', ')}`,
      `etcd: ${f.status.verdict.reachable} of ${f.status.verdict.members} members reachable, quorum ${f.status.verdict.hasQuorum ? 'present' : 'LOST'}`,
      ...f.status.members.map(
        (x) =>
          `  ${x.host.padEnd(10)} site ${x.site}  ${x.reachable ? `term ${x.raftTerm} applied ${x.raftAppliedIndex} revision ${x.revision}` : `unreachable: ${x.error ?? ''}`}`,
      ),
      `survivor: ${f.decision.survivor} (${f.survivorName}) — ${f.survivorReason}`,
      f.method === 'force-new-cluster'
        ? 'method: force-new-cluster — restart the survivor with --force-new-cluster: it keeps its data, revision and cluster ID and drops every other member (seed 003).'
        : `method: restore — restore the safety snapshot as a new one-member cluster with the fresh token ${f.decision.token}: a new cluster ID, so old members can never merge back (etcd maintainers' preferred way).`,
    ]
    if (m && !m.reachable && !f.resumed) lines.push(`warning: the survivor is not reachable now`)
    const others = f.status.members.filter((x) => x.site === f.site && x.host !== f.decision.survivor).map((x) => x.host)
    if (others.length) {
      lines.push(
        `note: ${others.join(', ')} (site ${f.site}) will not be members afterwards: dr does not rejoin them yet; add each back by hand (member add, empty data dir, --initial-cluster-state=existing), one at a time`,
      )
    }
    return lines
  },

  steps(f, options) {
    const o = opt(options)
    const s = f.decision.survivor
    const steps: Step<FailoverFacts>[] = [recordDecision, safetySnapshot, copyDataAside]
    if (f.method === 'force-new-cluster') steps.push(forceNewCluster(s), dropForceFlag(s))
    else steps.push(...restoreSteps(s))
    steps.push(countKeys)
    steps.push(removeDeadMembers)
    steps.push(...apiserverSteps<FailoverFacts>(f.siteControlplanes, (inv) => liveClientUrls(inv, f)))
    steps.push(...nodeSteps<FailoverFacts>(f.deadHosts, !!o.deleteNodes, f.siteControlplanes))
    if (o.rkeConfig) steps.push(rkeConfigStep<FailoverFacts>(path.resolve(o.rkeConfig), f.deadHosts))
    steps.push(markComplete)
    return steps
  },

  async finalVerify(ctx) {
    const f = ctx.facts
    const out: string[] = []
    const conn = await connectMember(ctx.conns, ctx.inv, f.decision.survivor)
    try {
      await waitWritable(conn.client, `verify-${f.decision.tag}`, 15_000, f.decision.survivor)
      out.push(`quorum read and write through ${f.decision.survivor}: ok`)
      const members = (await conn.client.cluster.memberList({})).members
      const outside = members.filter((m) => !inSite(ctx.inv, f.site, m))
      if (outside.length) throw unverified(`members outside site ${f.site} are still listed: ${outside.map((m) => m.name).join(', ')}`)
      out.push(`members: ${members.map((m) => m.name).join(', ')} (all in site ${f.site})`)
      // Kubernetes changes keys after the recovery (pods evicted from tainted Nodes), so the no-data-loss proof
      // is the count taken right after etcd was rebuilt; the current count is shown for information.
      const d = decisionOf(ctx)
      if (!d.recovered) throw unverified('no key count was recorded right after the rebuild')
      const want = d.snapshot?.keys ?? 0
      if (d.recovered.keys < want) throw unverified(`only ${d.recovered.keys} keys after the rebuild, fewer than the ${want} of the safety snapshot`)
      const now = await keyCount(conn.client)
      out.push(`keys: ${d.recovered.keys} right after the rebuild ≥ ${want} in the safety snapshot (revision ${d.recovered.revision} ≥ ${d.snapshot?.revision}); ${now} now`)
    } finally {
      await conn.close()
    }
    for (const h of hostsInSite(ctx.inv, f.site).filter((x) => x.roles.includes('etcd'))) {
      const c = await etcdContainer(await ctx.conns.get(h.name), ctx.inv)
      if (c && hasFlag(processArgv(c), '--force-new-cluster')) {
        throw unverified(`etcd on ${h.name} still runs with --force-new-cluster`)
      }
    }
    out.push(`no --force-new-cluster on any etcd of site ${f.site}`)
    out.push(...(await verifyApiservers(ctx as StepContext<unknown>, f.site, liveClientUrls(ctx.inv, f))))
    return out
  },
}

/** The decision file, only when it is this failover's (an older, finished failover's file is not). */
function recorded(ctx: StepContext<FailoverFacts>): FailoverDecision | undefined {
  const d = readDecision(ctx.inv.stateDir, ctx.facts.site)
  return d && d.tag === ctx.facts.decision.tag ? d : undefined
}
const decisionOf = (ctx: StepContext<FailoverFacts>): FailoverDecision => recorded(ctx) ?? ctx.facts.decision

const unverified = (message: string) =>
  new DrError({ code: 'failover.unverified', message, exit: 'unverified', hint: 'read the journal, fix the cause, and run the failover again: it resumes' })

/** A listed member belongs to a site when one of its peer URLs is a host of that site. */
const inSite = (inv: Inventory, site: string, m: { peerURLs: string[] }) =>
  hostsInSite(inv, site).some((h) => m.peerURLs.some((u) => new URL(u).hostname === h.address))

/** After the failover the only etcd member is the survivor (other members of its site rejoin later). */
const liveClientUrls = (inv: Inventory, f: FailoverFacts) => [memberEndpoint(inv, f.decision.survivor)]

const recordDecision: Step<FailoverFacts> = {
  id: 'record-decision',
  title: 'Record the failover decision (survivor, method) in the state directory',
  async check(ctx) {
    const d = recorded(ctx)
    return d ? [] : [{ summary: `write ${decisionPath(ctx.inv.stateDir, ctx.facts.site)}: survivor ${ctx.facts.decision.survivor}, ${ctx.facts.method}` }]
  },
  async apply(ctx) {
    archiveDecision(ctx.inv.stateDir, ctx.facts.site)
    writeDecision(ctx.inv.stateDir, ctx.facts.decision)
  },
  async verify(ctx) {
    const d = recorded(ctx)
    if (d?.survivor !== ctx.facts.decision.survivor) throw unverified('the decision file does not name the survivor')
  },
}

const safetySnapshot: Step<FailoverFacts> = {
  id: 'safety-snapshot',
  title: 'Take a safety snapshot of the survivor (works without quorum)',
  async check(ctx) {
    const d = decisionOf(ctx)
    if (d.snapshot) return []
    const file = path.join(ctx.inv.stateDir, 'snapshots', `${ctx.inv.cluster}-${d.survivor}-${d.tag}.db`)
    return [{ host: d.survivor, summary: `stream a snapshot of ${d.survivor} to ${file} and record its sha256, revision and key count` }]
  },
  async apply(ctx) {
    const f = ctx.facts
    const d = decisionOf(ctx)
    const file = path.join(ctx.inv.stateDir, 'snapshots', `${ctx.inv.cluster}-${d.survivor}-${d.tag}.db`)
    const conn = await connectMember(ctx.conns, ctx.inv, d.survivor)
    try {
      const { mkdirSync } = await import('node:fs')
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
      const snap = await snapshotToFile(conn.client, file)
      // Serializable: answered by the survivor alone, which is all there is without quorum.
      const keys = await keyCount(conn.client, { serializable: true })
      const revision = f.status.members.find((m) => m.host === d.survivor)?.revision ?? 0
      d.snapshot = { path: file, sha256: snap.sha256, size: snap.size, keys, revision }
      f.decision = d
      writeDecision(ctx.inv.stateDir, d)
    } finally {
      await conn.close()
    }
  },
  async verify(ctx) {
    const d = recorded(ctx)
    if (!d?.snapshot) throw unverified('no safety snapshot recorded')
    const { createReadStream } = await import('node:fs')
    const { createHash } = await import('node:crypto')
    const h = createHash('sha256')
    for await (const chunk of createReadStream(d.snapshot.path)) h.update(chunk as Buffer)
    if (h.digest('hex') !== d.snapshot.sha256) throw unverified(`the safety snapshot ${d.snapshot.path} does not match its sha256`)
    return `${d.snapshot.keys} keys, ${d.snapshot.size} bytes, sha256 ${d.snapshot.sha256.slice(0, 12)}…`
  },
}

const copyDataAside: Step<FailoverFacts> = {
  id: 'copy-data-aside',
  title: "Stop the survivor's etcd and copy its data dir aside",
  destructive: true,
  async check(ctx) {
    const d = ctx.facts.decision
    const t = await ctx.conns.get(d.survivor)
    const copy = `${ctx.inv.etcd.dataDir}.dr-before-failover-${d.tag}`
    const r = await t.$`test -d ${copy}`.nothrow()
    if (r.ok) return []
    return [
      {
        host: d.survivor,
        destructive: true,
        summary: `stop etcd (restart policy off), then copy ${ctx.inv.etcd.dataDir} to ${copy}`,
        command: `docker update --restart=no ${ctx.inv.etcd.container} && docker stop ${ctx.inv.etcd.container} && cp -a ${ctx.inv.etcd.dataDir} ${copy}`,
      },
    ]
  },
  async apply(ctx) {
    const d = ctx.facts.decision
    const t = await ctx.conns.get(d.survivor)
    const name = ctx.inv.etcd.container
    const dir = ctx.inv.etcd.dataDir
    const copy = `${dir}.dr-before-failover-${d.tag}`
    // A copy is only complete once renamed: a run killed mid-copy leaves a .part that the next run redoes.
    await t.$`if docker inspect ${name} >/dev/null 2>&1; then docker update --restart=no ${name} >/dev/null && docker stop -t 30 ${name} >/dev/null; fi
rm -rf ${copy}.part && cp -a ${dir} ${copy}.part && mv ${copy}.part ${copy}`
  },
  async verify(ctx) {
    const d = ctx.facts.decision
    const t = await ctx.conns.get(d.survivor)
    const copy = `${ctx.inv.etcd.dataDir}.dr-before-failover-${d.tag}`
    const size = await t.$`du -sh ${copy} | cut -f1`.text()
    return `${copy} (${size})`
  },
}

/** Ask the survivor something; not reaching it, or any error, is `false`. */
async function askSurvivor(ctx: StepContext<FailoverFacts>, ask: (c: Etcd3) => Promise<boolean>): Promise<boolean> {
  const conn = await connectMember(ctx.conns, ctx.inv, ctx.facts.decision.survivor, { callTimeoutMs: 2000 }).catch(() => undefined)
  if (!conn) return false
  try {
    return await ask(conn.client)
  } catch {
    return false
  } finally {
    await conn.close()
  }
}

const linearizableRead = async (c: Etcd3) => (await c.get('dr/probe/none').exists(), true)

const survivorWritable = (ctx: StepContext<FailoverFacts>) => askSurvivor(ctx, linearizableRead)

/** True when the survivor leads a writable cluster that lists no member outside its site. */
const survivorRunsAlone = (ctx: StepContext<FailoverFacts>) =>
  askSurvivor(ctx, async (c) => (await c.cluster.memberList({})).members.every((m) => inSite(ctx.inv, ctx.facts.site, m)) && linearizableRead(c))

function forceNewCluster(survivor: string): Step<FailoverFacts> {
  const edit = (f: FailoverFacts): ContainerEdit => ({
    setArgs: { '--initial-cluster': `${f.survivorName}=${f.survivorPeerUrl}` },
    addArgs: ['--force-new-cluster'],
    // Off while forced: a host reboot must not force a new cluster a second time.
    restartPolicy: { Name: 'no' },
  })
  return recreateStep<FailoverFacts>({
    id: 'force-new-cluster',
    title: `Re-create etcd on ${survivor} with --force-new-cluster and itself as the only member`,
    host: survivor,
    container: (inv) => inv.etcd.container,
    edit,
    async done(ctx) {
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

/** Count the keys of the rebuilt cluster and hold them against the safety snapshot. */
async function recordRecovered(ctx: StepContext<FailoverFacts>, client: import('etcd3').Etcd3): Promise<number> {
  const d = decisionOf(ctx)
  const keys = await keyCount(client)
  const revision = Number((await client.get('dr/probe/none').exec()).header.revision)
  if (d.snapshot && keys < d.snapshot.keys) {
    throw unverified(`the rebuilt cluster has ${keys} keys, fewer than the ${d.snapshot.keys} of the safety snapshot ${d.snapshot.path}`)
  }
  writeDecision(ctx.inv.stateDir, { ...d, recovered: { keys, revision, at: new Date().toISOString() } })
  return keys
}

const countKeys: Step<FailoverFacts> = {
  id: 'count-keys',
  title: 'Count the keys of the rebuilt cluster against the safety snapshot',
  async check(ctx) {
    const d = recorded(ctx)
    return d?.recovered ? [] : [{ host: ctx.facts.decision.survivor, summary: 'count every key (linearizable) and require at least the safety snapshot\'s count' }]
  },
  async apply(ctx) {
    const conn = await connectMember(ctx.conns, ctx.inv, ctx.facts.decision.survivor)
    try {
      await recordRecovered(ctx, conn.client)
    } finally {
      await conn.close()
    }
  },
  async verify(ctx) {
    const d = recorded(ctx)
    if (!d?.recovered) throw unverified('no key count recorded')
    return `${d.recovered.keys} keys at revision ${d.recovered.revision} (safety snapshot: ${d.snapshot?.keys} keys, revision ${d.snapshot?.revision})`
  },
}

function dropForceFlag(survivor: string): Step<FailoverFacts> {
  return recreateStep<FailoverFacts>({
    id: 'drop-force-flag',
    title: `Re-create etcd on ${survivor} without --force-new-cluster, restart policy always`,
    host: survivor,
    container: (inv) => inv.etcd.container,
    // --initial-cluster stays the survivor alone: ignored on an existing data dir, and true to what the cluster is.
    edit: (f) => ({
      setArgs: { '--initial-cluster': `${f.survivorName}=${f.survivorPeerUrl}` },
      removeArgs: ['--force-new-cluster'],
      restartPolicy: { Name: 'always' },
    }),
    async done(ctx, c) {
      if (!c) return false
      const forced = hasFlag(processArgv(c), '--force-new-cluster')
      return !forced && c.HostConfig.RestartPolicy?.Name === 'always' && !!c.State?.Running && (await survivorRunsAlone(ctx))
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

/**
 * The restore method: the safety snapshot becomes the data dir of a new one-member cluster with a fresh token, so a
 * new cluster ID — old members can never merge back. The restored dir is swapped in only once complete, and the
 * member it replaces is kept as <dataDir>.dr-replaced-<tag>.
 */
function restoreSteps(survivor: string): Step<FailoverFacts>[] {
  const paths = (ctx: StepContext<FailoverFacts>) => {
    const { dataDir } = ctx.inv.etcd
    const tag = ctx.facts.decision.tag
    return { dataDir, snap: `${dataDir}.dr-snapshot-${tag}.db`, restored: `${dataDir}.dr-restored-${tag}`, replaced: `${dataDir}.dr-replaced-${tag}` }
  }
  const restore: Step<FailoverFacts> = {
    id: 'restore-snapshot',
    title: `Restore the safety snapshot on ${survivor} into a new data dir (fresh token, new cluster ID)`,
    host: survivor,
    destructive: true,
    async check(ctx) {
      const t = await ctx.conns.get(survivor)
      const p = paths(ctx)
      if ((await t.$`test -d ${p.replaced}`.nothrow()).ok) return []
      return [
        {
          host: survivor,
          destructive: true,
          summary: `copy the safety snapshot to ${p.snap}, \`etcdctl snapshot restore\` it into ${p.restored} as ${ctx.facts.survivorName} with token ${ctx.facts.decision.token}, then swap it in for ${p.dataDir} (kept as ${p.replaced})`,
        },
      ]
    },
    async apply(ctx) {
      const t = await ctx.conns.get(survivor)
      const p = paths(ctx)
      const d = decisionOf(ctx)
      if (!d.snapshot) throw unverified('no safety snapshot recorded')
      const { createReadStream } = await import('node:fs')
      const { pipeline } = await import('node:stream/promises')
      await pipeline(createReadStream(d.snapshot.path), await t.createWriteStream(`${p.snap}.part`, { mode: 0o600 }))
      await t.$`mv ${`${p.snap}.part`} ${p.snap}`
      const c = await etcdContainer(t, ctx.inv)
      if (!c) throw unverified(`there is no ${ctx.inv.etcd.container} container on ${survivor} to take the image from`)
      const f = ctx.facts
      const parent = p.dataDir.replace(/\/[^/]+\/?$/, '') || '/'
      // The image's own etcdctl, in a throwaway container: the host needs no etcd binaries.
      await t.$`rm -rf ${p.restored} && docker run --rm --network=none -e ETCDCTL_API=3 -v ${`${parent}:${parent}`} --entrypoint etcdctl ${c.Image} snapshot restore ${p.snap} --data-dir ${p.restored} --name ${f.survivorName} --initial-cluster ${`${f.survivorName}=${f.survivorPeerUrl}`} --initial-cluster-token ${f.decision.token!} --initial-advertise-peer-urls ${f.survivorPeerUrl}`
      // Swapped in only when complete; a run killed between the two moves finds the restored dir still there.
      await t.$`if [ -d ${p.dataDir} ]; then mv ${p.dataDir} ${p.replaced}; else mkdir -p ${p.replaced}; fi && mv ${p.restored} ${p.dataDir}`
    },
    async verify(ctx) {
      const t = await ctx.conns.get(survivor)
      const p = paths(ctx)
      await t.$`test -d ${`${p.dataDir}/member`} && test -d ${p.replaced}`
      return `${p.dataDir} restored from the safety snapshot; the old member kept as ${p.replaced}`
    },
  }
  const start = recreateStep<FailoverFacts>({
    id: 'start-restored',
    title: `Re-create etcd on ${survivor} on the restored data as a new cluster`,
    host: survivor,
    container: (inv) => inv.etcd.container,
    edit: (f) => ({
      setArgs: {
        '--initial-cluster': `${f.survivorName}=${f.survivorPeerUrl}`,
        '--initial-cluster-token': f.decision.token!,
        '--initial-cluster-state': 'new',
      },
      removeArgs: ['--force-new-cluster'],
      restartPolicy: { Name: 'always' },
    }),
    async done(ctx, c) {
      if (!c || !c.State?.Running) return false
      if (getFlag(processArgv(c), '--initial-cluster-token') !== ctx.facts.decision.token) return false
      return survivorRunsAlone(ctx)
    },
    async after(ctx) {
      const conn = await connectMember(ctx.conns, ctx.inv, survivor)
      try {
        const ms = await waitWritable(conn.client, `restored-${ctx.facts.decision.tag}`, 60_000, survivor)
        return `new cluster writable ${(ms / 1000).toFixed(1)} s after start`
      } finally {
        await conn.close()
      }
    },
  })
  return [restore, start]
}

const removeDeadMembers: Step<FailoverFacts> = {
  id: 'remove-dead-members',
  title: 'Remove every member outside the surviving site from the member list',
  async check(ctx) {
    const f = ctx.facts
    if (!(await survivorWritable(ctx))) {
      // Before the new cluster exists, --force-new-cluster is what drops the dead members; this step only
      // removes what is still listed afterwards.
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
    } catch {
      return [{ host: f.decision.survivor, summary: 'read the member list once the survivor is writable, and remove dead members' }]
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

const markComplete: Step<FailoverFacts> = {
  id: 'mark-complete',
  title: 'Mark the failover complete in the state directory',
  async check(ctx) {
    const d = recorded(ctx)
    return d?.completedAt ? [] : [{ summary: `set completedAt in ${decisionPath(ctx.inv.stateDir, ctx.facts.site)}` }]
  },
  async apply(ctx) {
    const d = decisionOf(ctx)
    writeDecision(ctx.inv.stateDir, { ...d, completedAt: new Date().toISOString() })
  },
  async verify() {},
}

