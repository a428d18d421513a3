// The steps that join one host's etcd to a running cluster as a learner and promote it (etcd ≥ 3.4, DESIGN.md §7):
// reset what the host has left (stop its etcd, quarantine its old data — never merged), put an etcd container in
// place (its own kept one, or a surviving member's as a template), `member add --learner`, start it with an empty
// data dir, --initial-cluster-state=existing and the cluster's exact member list, wait until it has caught up,
// promote. Every check reads the cluster, so a run killed anywhere converges. Failover and failback reuse them.
import { DrError, isDrError } from '../../src/core/error.ts'
import { connectWithQuorum, selfView } from '../../src/etcd/membership.ts'
import { CAUGHT_UP_LAG, caughtUp, hexId, joinInitialCluster, memberOfHost } from '../../src/etcd/learner.ts'
import { getFlag } from '../../src/container/command-flags.ts'
import { inspectImage, processArgv } from '../../src/container/inspect.ts'
import { componentKind, ContainerComponent, disableRestart, StaticPodComponent, type Component } from '../../src/component/index.ts'
import { manifestArgv, parseManifest } from '../../src/component/manifest.ts'
import { createBody } from '../../src/container/create-body.ts'
import { Engine } from '../../src/container/engine.ts'
import { hostPath } from '../../src/inventory/types.ts'
import type { Change, Step, StepContext } from '../../src/runbook/types.ts'
import type { Transport } from '../../src/transport/types.ts'
import { componentOf, etcdContainer, reconfigureStep } from '../steps/containers.ts'
import { containerForHost, manifestForHost, newestKept } from './template.ts'
import { candidatesFor, hostJoin, peerUrlOf, type HostJoin } from './view.ts'

export interface MemberAddOptions {
  /** Hosts to reach the cluster through (default: every other etcd host of the inventory). */
  via?: string[]
  /** How long a learner may take to catch up before the run gives up (default 180 s). */
  catchUpTimeoutMs?: number
}

const tagNow = () => new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const unverified = (host: string, message: string) =>
  new DrError({ code: 'member.unverified', message, host, exit: 'unverified', hint: `the etcd log on ${host} (RKE: docker logs --tail 50 etcd; kubeadm: its etcd pod's container); run again to resume` })

const etcdOf = async (ctx: StepContext<unknown>, host: string): Promise<Component> => componentOf(ctx.inv, await ctx.conns.get(host), 'etcd')

/** What stop() does, in words, for a plan. */
const stopSummary = (c: Component) =>
  c instanceof StaticPodComponent
    ? { summary: `stop the etcd static pod (move ${c.manifest} to ${c.stash})`, command: `mv ${c.manifest} ${c.stash}` }
    : { summary: `stop ${(c as ContainerComponent).container} (restart policy off)`, command: `docker update --restart=no ${(c as ContainerComponent).container} && docker stop ${(c as ContainerComponent).container}` }

function refuseVoterDown(host: string, id: string): never {
  throw new DrError({
    code: 'member.voter-down',
    message: `${host} is already a voting member (${id}), but its etcd does not answer as that member`,
    host,
    exit: 'refused',
    hint: `start its etcd, or remove it first (dr member remove ${host}) and add it again; for a dead host: dr member replace ${host} --with <new host>`,
  })
}

/**
 * The member name the host's etcd runs (or will run) as: its container's or manifest's --name, else (a container
 * kept aside) that one's, else etcd-<host> (RKE's naming) or the host's name (kubeadm's: the node name).
 */
async function memberName(t: Transport, ctx: StepContext<unknown>, host: string): Promise<string> {
  const comp = componentOf(ctx.inv, t, 'etcd')
  const argv = (await comp.state())?.argv
  if (argv) return getFlag(argv, '--name') || `etcd-${host}`
  const c = comp instanceof ContainerComponent ? await newestKept(t, ctx.inv.etcd.container) : undefined
  return (c && getFlag(processArgv(c), '--name')) || (comp instanceof StaticPodComponent ? host : `etcd-${host}`)
}

/** The component has a container running, or would run one (not stopped for good). */
const live = (s: Awaited<ReturnType<Component['state']>>) => !!s && (!s.stopped || !!s.container?.State?.Running)

async function dataDirUsed(t: Transport, dir: string): Promise<boolean> {
  return (await t.$`test -d ${`${dir}/member`}`.nothrow()).ok
}

/**
 * `member add --learner`, patient with etcd's own health gate: the leader refuses a reconfiguration ("unhealthy
 * cluster") until it has been connected to every voting member for 5 s (etcd's HealthInterval), which is not yet
 * the case right after the previous member was promoted. Anything else is an error at once.
 */
async function memberAddLearner(client: import('etcd3').Etcd3, peerUrl: string, host: string, patienceMs = 30_000): Promise<void> {
  const until = Date.now() + patienceMs
  for (;;) {
    try {
      await client.cluster.memberAdd({ peerURLs: [peerUrl], isLearner: true })
      return
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e)
      if (!/unhealthy cluster/i.test(message)) throw e
      if (Date.now() >= until) {
        throw new DrError({
          code: 'member.cluster-unhealthy',
          message: `etcd refused to add ${host} for ${patienceMs / 1000} s: the leader does not see every voting member as connected ("unhealthy cluster")`,
          host,
          hint: 'check every member with `dr status`, then run again: it resumes',
          cause: e,
        })
      }
      await sleep(1000)
    }
  }
}

export function memberAddSteps<F>(host: string, opts: MemberAddOptions = {}): Step<F>[] {
  const via = opts.via
  const join = (ctx: StepContext<F>) => hostJoin(ctx, host, via)
  const joined = (j: HostJoin) => j.state === 'learner' || j.state === 'voter'

  const reset: Step<F> = {
    id: `member-reset-${host}`,
    title: `Stop what ${host} has left of etcd and quarantine its old data (never merged)`,
    host,
    destructive: true,
    async check(ctx) {
      const j = await join(ctx)
      if (joined(j)) return []
      if (j.listed && j.listed.name && !j.listed.isLearner) refuseVoterDown(host, hexId(j.listed.ID))
      const t = await ctx.conns.get(host)
      const comp = componentOf(ctx.inv, t, 'etcd')
      const dir = ctx.inv.etcd.dataDir
      const used = await dataDirUsed(t, dir)
      const changes: Change[] = []
      if (live(await comp.state())) changes.push({ host, destructive: true, ...stopSummary(comp) })
      // A listed entry that does not answer may have received data before it stopped, and cannot take an empty data
      // dir: raft would wait for an index the new process never had. It goes, and is added again (learners do not
      // vote, so this never touches quorum).
      if (j.listed) changes.push({ host, destructive: true, summary: `member remove ${hexId(j.listed.ID)} (an unfinished join of ${host}; added again below)` })
      if (used) changes.push({ host, destructive: true, summary: `move ${dir} to ${dir}.dr-quarantined-<time>`, command: `mv ${dir} ${dir}.dr-quarantined-<time> && mkdir -p ${dir}` })
      return changes
    },
    async apply(ctx) {
      const t = await ctx.conns.get(host)
      const dir = ctx.inv.etcd.dataDir
      const comp = componentOf(ctx.inv, t, 'etcd')
      if (live(await comp.state())) await comp.stop(comp instanceof ContainerComponent ? { timeoutMs: 10_000 } : {})
      const j = await join(ctx)
      if (j.listed && !joined(j)) {
        if (j.listed.name && !j.listed.isLearner) refuseVoterDown(host, hexId(j.listed.ID))
        const { conn } = await connectWithQuorum(ctx.conns, ctx.inv, candidatesFor(ctx.inv, host, via))
        try {
          await conn.client.cluster.memberRemove({ ID: j.listed.ID })
        } finally {
          await conn.close()
        }
      }
      const aside = `${dir}.dr-quarantined-${tagNow()}`
      await t.$`if [ -d ${`${dir}/member`} ]; then mv ${dir} ${aside}; fi; mkdir -p ${dir}`
    },
    async verify(ctx) {
      const t = await ctx.conns.get(host)
      if (await dataDirUsed(t, ctx.inv.etcd.dataDir)) throw unverified(host, `${ctx.inv.etcd.dataDir} on ${host} still holds a member`)
      const s = await componentOf(ctx.inv, t, 'etcd').state()
      if (s?.container?.State?.Running) throw unverified(host, `etcd on ${host} is still running (${s.where})`)
      const kept = (await t.$`ls -d ${ctx.inv.etcd.dataDir}.dr-* 2>/dev/null || true`.text()).split('\n').filter(Boolean)
      return kept.length ? `old data kept: ${kept.join(', ')}` : 'no old data on the host'
    },
  }

  const container: Step<F> = {
    id: `member-container-${host}`,
    title: `Put etcd in place on ${host}, not started (its own kept container or manifest, else a member's as a template)`,
    host,
    async check(ctx) {
      const t = await ctx.conns.get(host)
      const comp = componentOf(ctx.inv, t, 'etcd')
      if (await comp.state()) return []
      if (comp instanceof StaticPodComponent) {
        const j = await join(ctx)
        await requireCerts(t, ctx, host, await templateManifest(ctx, j.m.via, host).then((m) => manifestCerts(m.argv)))
        return [{ host, summary: `write ${comp.stash} from ${j.m.via}'s ${comp.manifest} with ${j.m.via}'s name and address replaced by ${host}'s (not started: moved into ${comp.manifest} below)` }]
      }
      const name = ctx.inv.etcd.container
      const kept = await newestKept(t, name)
      if (kept) return [{ host, summary: `rename ${kept.Name.replace(/^\//, '')} to ${name} (stopped, restart policy off)` }]
      await requireCerts(t, ctx, host)
      const j = await join(ctx)
      return [{ host, summary: `create ${name} from ${j.m.via}'s ${name} with ${j.m.via}'s name, address and certificate paths replaced by ${host}'s (created stopped)` }]
    },
    async apply(ctx) {
      const t = await ctx.conns.get(host)
      const comp = componentOf(ctx.inv, t, 'etcd')
      if (await comp.state()) return
      if (comp instanceof StaticPodComponent) {
        const j = await join(ctx)
        const m = await templateManifest(ctx, j.m.via, host)
        await requireCerts(t, ctx, host, manifestCerts(m.argv))
        await comp.installStopped(m.text)
        return
      }
      const name = ctx.inv.etcd.container
      const kept = await newestKept(t, name)
      if (kept) {
        await disableRestart(t, kept.Id)
        await t.$`docker rename ${kept.Id} ${name}`
        return
      }
      await requireCerts(t, ctx, host)
      const j = await join(ctx)
      const st = await ctx.conns.get(j.m.via)
      const src = await etcdContainer(st, ctx.inv)
      if (!src) throw new DrError({ code: 'member.no-template', message: `there is no ${name} container on ${j.m.via} to use as a template`, host: j.m.via, hint: `create ${name} on ${host} by hand (as \`rke up\` would), then run again` })
      const from = { name: j.m.via, address: ctx.inv.hosts[j.m.via].address }
      const to = { name: host, address: ctx.inv.hosts[host].address }
      const tmpl = containerForHost(src, from, to)
      if (!(await t.$`docker image inspect ${src.Config.Image ?? src.Image}`.nothrow()).ok) {
        await t.$.with({ doing: `pull the etcd image on ${host}` })`docker pull ${src.Config.Image ?? src.Image}`
      }
      const image = await inspectImage(t, src.Config.Image ?? src.Image)
      const engine = await Engine.open(t)
      try {
        await engine.createContainer(name, createBody(tmpl, image, { restartPolicy: { Name: 'no' } }).body)
      } finally {
        await engine.close()
      }
    },
    async verify(ctx) {
      const s = await (await etcdOf(ctx as StepContext<unknown>, host)).state()
      if (!s) throw unverified(host, `there is no etcd ${ctx.inv.flavor === 'rke' ? 'container' : 'manifest'} on ${host}`)
      return `${s.where}: ${s.argv.slice(0, 1).join(' ')} (${s.image})`
    },
  }

  const addLearner: Step<F> = {
    id: `member-add-learner-${host}`,
    title: `Add ${host} to the member list as a learner (non-voting)`,
    host,
    async check(ctx) {
      const j = await join(ctx)
      if (j.listed) return []
      return [{ host: j.m.via, summary: `member add --learner ${peerUrlOf(ctx.inv, host)} (through ${j.m.via}; ${j.m.members.length} members now)` }]
    },
    async apply(ctx) {
      const { conn, m } = await connectWithQuorum(ctx.conns, ctx.inv, candidatesFor(ctx.inv, host, via))
      try {
        if (memberOfHost(m.members, ctx.inv.hosts[host].address)) return
        const others = m.members.filter((x) => x.isLearner || !x.name)
        if (others.length) {
          throw new DrError({
            code: 'member.one-at-a-time',
            message: `another member is still joining (${others.map((x) => x.name || hexId(x.ID)).join(', ')}): one member joins at a time`,
            host,
            exit: 'refused',
            hint: 'finish that join first (dr member add <its host>), or remove it',
          })
        }
        await requireAllHealthy(ctx, m.members, host)
        await memberAddLearner(conn.client, peerUrlOf(ctx.inv, host), host)
      } finally {
        await conn.close()
      }
    },
    async verify(ctx) {
      const j = await join(ctx)
      if (!j.listed) throw unverified(host, `${host} is not in the member list`)
      return `listed as ${hexId(j.listed.ID)}${j.listed.isLearner ? ' (learner)' : ''}`
    },
  }

  // The edit depends on the member list at the time (the cluster's exact members), read just before each use.
  let edit = { initialCluster: '', name: '' }
  const refreshEdit = async (ctx: StepContext<F>) => {
    const t = await ctx.conns.get(host)
    const j = await join(ctx)
    const name = await memberName(t, ctx as StepContext<unknown>, host)
    edit = { name, initialCluster: joinInitialCluster(j.m.members, { name, peerURL: peerUrlOf(ctx.inv, host) }) }
  }
  const startInner = reconfigureStep<F>({
    id: `member-start-${host}`,
    title: `Start etcd on ${host} with an empty data dir and --initial-cluster-state=existing`,
    host,
    component: 'etcd',
    edit: (_f, inv) => ({
      setArgs: {
        '--name': edit.name,
        '--initial-cluster': edit.initialCluster,
        '--initial-cluster-state': 'existing',
        // The peer URL the learner was added with: etcd finds its own member by it.
        '--initial-advertise-peer-urls': peerUrlOf(inv, host),
      },
      removeArgs: ['--force-new-cluster'],
      // A container's own; a static pod has the kubelet's (always).
      ...(componentKind(inv, host) === 'container' ? { restartPolicy: { Name: 'always' } } : {}),
    }),
    async done(ctx, s) {
      // A static pod's restart policy is the kubelet's: always.
      if (!s?.running || s.restartPolicy !== 'always') return false
      return joined(await join(ctx))
    },
    async after(ctx) {
      const started = Date.now()
      while (Date.now() - started < 60_000) {
        const j = await join(ctx)
        if (joined(j)) return `${host} answers as member ${hexId(j.listed!.ID)} after ${((Date.now() - started) / 1000).toFixed(1)} s`
        await sleep(1000)
      }
      throw unverified(host, `etcd on ${host} did not join within 60 s`)
    },
  })
  const start: Step<F> = {
    ...startInner,
    async check(ctx) {
      try {
        await refreshEdit(ctx)
      } catch (e) {
        // In a plan, an earlier step of this run (another host's unfinished join, resumed first) clears this.
        if (!isDrError(e) || e.code !== 'member.other-unstarted') throw e
        return [{ host, destructive: true, summary: `start etcd on ${host} as a learner once the member still joining has finished (${e.message})` }]
      }
      return startInner.check(ctx)
    },
    async apply(ctx, changes) {
      await refreshEdit(ctx)
      return startInner.apply(ctx, changes)
    },
  }
  const promote: Step<F> = {
    id: `member-promote-${host}`,
    title: `Wait until ${host} has caught up with the leader, then promote it to a voting member`,
    host,
    async check(ctx) {
      const j = await join(ctx)
      if (j.state === 'voter') return []
      return [{ host, summary: `promote ${host} once its applied index is within ${CAUGHT_UP_LAG} of the leader's${j.self.appliedIndex !== undefined ? ` (now ${j.self.appliedIndex} vs ${j.m.appliedIndex})` : ''}` }]
    },
    async apply(ctx) {
      const limit = opts.catchUpTimeoutMs ?? 180_000
      const started = Date.now()
      let last = ''
      while (Date.now() - started < limit) {
        const { conn, m } = await connectWithQuorum(ctx.conns, ctx.inv, candidatesFor(ctx.inv, host, via))
        try {
          const me = memberOfHost(m.members, ctx.inv.hosts[host].address)
          if (!me) throw unverified(host, `${host} is no longer in the member list`)
          if (!me.isLearner) return
          const self = await selfView(ctx.conns, ctx.inv, host)
          last = `learner applied index ${self.appliedIndex ?? '?'}, leader ${m.appliedIndex}`
          if (self.answers && caughtUp(self.appliedIndex ?? 0, m.appliedIndex)) {
            try {
              await conn.client.cluster.memberPromote({ ID: me.ID })
              return
            } catch (e) {
              // etcd checks too (the learner's match index against the leader's); not yet in sync is worth a retry.
              last = `${last}; promote: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`
              if (!/in sync|not ready|learner|not enough started|unhealthy cluster/i.test(last)) throw e
            }
          }
          ctx.out.progress(`  ${host}: ${last}`)
        } finally {
          await conn.close()
        }
        await sleep(1000)
      }
      throw new DrError({ code: 'member.not-caught-up', message: `${host} did not catch up within ${Math.round(limit / 1000)} s (${last})`, host, hint: `look at its log: docker logs --tail 50 etcd on ${host}; run again to keep waiting` })
    },
    async verify(ctx) {
      const j = await join(ctx)
      if (j.state !== 'voter') throw unverified(host, `${host} is not a started voting member (${j.state})`)
      return `${j.listed!.name} is a voting member; applied index ${j.self.appliedIndex} (leader's member ${j.m.appliedIndex})`
    },
  }

  // In a plan made before the cluster has quorum again (failover plans its rejoins before the rebuild), each step
  // says what it will do instead of failing; when it runs, its re-check reads the rebuilt cluster.
  const later = (s: Step<F>, what: string): Step<F> => ({
    ...s,
    async check(ctx) {
      try {
        return await s.check(ctx)
      } catch (e) {
        if (!isDrError(e) || e.code !== 'member.no-quorum') throw e
        return [{ host, summary: `${what} (once the cluster has quorum: not now)`, destructive: s.destructive }]
      }
    },
  })
  return [
    later(reset, `stop what ${host} has left of etcd; quarantine its data`),
    later(container, `put an etcd container in place on ${host}`),
    later(addLearner, `member add --learner ${host}`),
    later(start, `start etcd on ${host} as a learner`),
    later(promote, `promote ${host} once caught up`),
  ]
}

/** A member's etcd manifest made into `host`'s: its name and address replaced (kubeadm's paths are the same on every host). */
async function templateManifest(ctx: StepContext<unknown>, via: string, host: string): Promise<{ text: string; argv: string[] }> {
  const src = componentOf(ctx.inv, await ctx.conns.get(via), 'etcd')
  const text = src instanceof StaticPodComponent ? await src.text() : undefined
  if (!text) {
    throw new DrError({ code: 'member.no-template', message: `there is no etcd manifest on ${via} to use as a template`, host: via, exit: 'refused', hint: `write /etc/kubernetes/manifests/etcd.yaml on ${host} as kubeadm would (kubeadm join --control-plane), then run again` })
  }
  const out = manifestForHost(text, { name: via, address: ctx.inv.hosts[via].address }, { name: host, address: ctx.inv.hosts[host].address })
  return { text: out, argv: manifestArgv(parseManifest(out, `${via}'s etcd manifest made for ${host}`, 'etcd')) }
}

/** The files an etcd process reads its TLS material from, as its flags name them. */
export const manifestCerts = (argv: string[]) =>
  ['--cert-file', '--key-file', '--trusted-ca-file', '--peer-cert-file', '--peer-key-file', '--peer-trusted-ca-file'].map((f) => getFlag(argv, f)).filter((x): x is string => !!x)

async function requireCerts(t: Transport, ctx: StepContext<unknown>, host: string, extra: string[] = []) {
  const h = ctx.inv.hosts[host]
  const files = [...new Set([ctx.inv.etcd.caFile, ctx.inv.etcd.certFile, ctx.inv.etcd.keyFile].map((f) => hostPath(f, h)).concat(extra))]
  const missing: string[] = []
  for (const f of files) if (!(await t.$`test -f ${f}`.nothrow()).ok) missing.push(f)
  if (missing.length) {
    throw new DrError({
      code: 'member.no-certificates',
      message: `${host} lacks its etcd certificates: ${missing.join(', ')}`,
      host,
      exit: 'refused',
      hint: 'put the member certificates in place first (RKE: `rke up` or `rke cert rotate` with the host in cluster.yml; kubeadm: `kubeadm init phase certs etcd-server`, `etcd-peer`, `etcd-healthcheck-client` with the cluster\'s etcd CA)',
    })
  }
}

/** Never two unhealthy at once: every voting member must answer as itself before a learner is added. */
async function requireAllHealthy(ctx: StepContext<unknown>, members: { ID: string; name: string; peerURLs: string[]; isLearner?: boolean }[], joining: string) {
  const down: string[] = []
  for (const m of members.filter((x) => !x.isLearner)) {
    const h = Object.values(ctx.inv.hosts).find((x) => m.peerURLs.some((u) => new URL(u).hostname === x.address))
    if (!h || h.name === joining) {
      if (!h) down.push(`${m.name || hexId(m.ID)} (not an inventory host)`)
      continue
    }
    const s = await selfView(ctx.conns, ctx.inv, h.name)
    if (!s.answers || BigInt(s.memberId ?? 0) !== BigInt(m.ID)) down.push(`${m.name} on ${h.name}`)
  }
  if (down.length) {
    throw new DrError({
      code: 'member.unhealthy',
      message: `not every member is healthy (${down.join(', ')}): adding one now could leave two unhealthy at once`,
      host: joining,
      exit: 'refused',
      hint: 'bring the member back or remove it first (dr member remove / dr member replace), then add',
    })
  }
}
