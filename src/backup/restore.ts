// `dr backup restore ID`: rebuild the whole cluster from one backup when every member is lost. The backup is
// fetched and proven restorable first (digests, etcd's own hash, a throwaway restore) — every refusal happens
// before anything is touched. Then, on each etcd host: stop etcd, move the old data aside (kept, never deleted),
// `etcdctl snapshot restore` with the member's own name and peer URL and one fresh --initial-cluster-token (a new
// cluster ID, so an old member can never merge back), re-create the etcd container with that token, and finally
// prove quorum, a write, and every key and the revision of the backup. State lives in the state directory, so a
// killed run resumes with the same token.
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { Writable } from 'node:stream'
import { DrError } from '../core/error.ts'
import { hostsWithRole } from '../inventory/types.ts'
import type { Runbook, Step, StepContext } from '../runbook/types.ts'
import { getFlag } from '../container/command-flags.ts'
import { inspectContainer, processArgv, type ContainerInspect } from '../container/inspect.ts'
import { recreateContainer } from '../container/recreate.ts'
import { openNamedStore, readIdentities } from './run-backup.ts'
import { fetchSnapshot } from './verify.ts'
import { restoreThrowaway } from './throwaway-etcd.ts'
import type { BackupMetadata } from './metadata.ts'

export interface RestoreOptions {
  id: string
  store?: string
  identity?: string
  force?: boolean
}

export interface RestoreMember {
  host: string
  name: string
  peerUrl: string
  image: string
  restartPolicy: { Name: string; MaximumRetryCount?: number }
}

/** Written by the first step; a resumed run reads it back (same token, same members). */
export interface RestoreDecision {
  id: string
  token: string
  startedAt: string
  sha256: string
  members: RestoreMember[]
}

export interface RestoreFacts {
  decision: RestoreDecision
  metadata: BackupMetadata
  /** The verified raw snapshot on this machine. */
  file: string
  initialCluster: string
  resumed: boolean
}

const stateFile = (stateDir: string, id: string) => path.join(stateDir, 'restore', `${id}.json`)
const snapshotFile = (stateDir: string, id: string) => path.join(stateDir, 'restore', `${id}.db`)
const markerPath = (dataDir: string, token: string) => `${dataDir.replace(/\/+$/, '')}.dr-restored-${token}`
const opt = (o: Record<string, unknown>) => o as unknown as RestoreOptions

const unverified = (message: string, host?: string) =>
  new DrError({ code: 'restore.unverified', message, host, exit: 'unverified', hint: 'read the journal, fix the cause, and run `dr backup restore` again: it resumes' })

async function readMember(ctx: Pick<StepContext<unknown>, 'inv' | 'conns'>, host: string): Promise<RestoreMember> {
  const t = await ctx.conns.get(host)
  const c = await inspectContainer(t, ctx.inv.etcd.container)
  const argv = processArgv(c)
  const name = getFlag(argv, '--name')
  const peerUrl = getFlag(argv, '--initial-advertise-peer-urls')?.split(',')[0]
  if (!name || !peerUrl) throw new DrError({ code: 'restore.member-flags', message: `the etcd container on ${host} has no --name or --initial-advertise-peer-urls`, host, hint: 'restore needs RKE-style etcd containers', exit: 'refused' })
  const policy = c.HostConfig?.RestartPolicy as RestoreMember['restartPolicy'] | undefined
  // A stopped member may have had its policy set to "no" by hand; RKE creates etcd with "always".
  const restartPolicy = policy && policy.Name && policy.Name !== 'no' ? policy : { Name: 'always' }
  return { host, name, peerUrl, image: c.Config?.Image ?? c.Image, restartPolicy }
}

const running = (c: ContainerInspect | undefined) => !!c?.State?.Running

async function etcdOn(ctx: StepContext<RestoreFacts>, host: string) {
  return inspectContainer(await ctx.conns.get(host), ctx.inv.etcd.container).catch(() => undefined)
}

function memberSteps(m: RestoreMember): Step<RestoreFacts>[] {
  const hostData = (ctx: StepContext<RestoreFacts>) => ctx.inv.etcd.dataDir
  const restored = async (ctx: StepContext<RestoreFacts>) => {
    const t = await ctx.conns.get(m.host)
    return (await t.$`test -e ${markerPath(hostData(ctx), ctx.facts.decision.token)}`.nothrow()).ok
  }
  const tokenOf = (c: ContainerInspect | undefined) => (c ? getFlag(processArgv(c), '--initial-cluster-token') : undefined)

  const stop: Step<RestoreFacts> = {
    id: `stop-etcd-${m.host}`,
    title: `Stop etcd on ${m.host} and keep it from restarting`,
    host: m.host,
    destructive: true,
    async check(ctx) {
      if (await restored(ctx)) return []
      const c = await etcdOn(ctx, m.host)
      if (!running(c) && c?.HostConfig?.RestartPolicy?.Name === 'no') return []
      return [{ host: m.host, destructive: true, summary: `docker update --restart=no ${ctx.inv.etcd.container}; docker stop ${ctx.inv.etcd.container}` }]
    },
    async apply(ctx) {
      const t = await ctx.conns.get(m.host)
      await t.$`docker update --restart=no ${ctx.inv.etcd.container}`
      await t.$`docker stop -t 30 ${ctx.inv.etcd.container}`
    },
    async verify(ctx) {
      if (running(await etcdOn(ctx, m.host))) throw unverified(`etcd on ${m.host} is still running`, m.host)
      return 'stopped'
    },
  }

  const restore: Step<RestoreFacts> = {
    id: `restore-data-${m.host}`,
    title: `Restore the snapshot into ${m.host}'s data dir as member ${m.name} (the old data is moved aside)`,
    host: m.host,
    destructive: true,
    async check(ctx) {
      if (await restored(ctx)) return []
      const d = hostData(ctx)
      return [
        { host: m.host, destructive: true, summary: `move ${d}/member to ${d}.dr-before-restore-${ctx.facts.decision.token}/ (kept)` },
        { host: m.host, summary: `etcdctl snapshot restore --name=${m.name} --initial-advertise-peer-urls=${m.peerUrl} --initial-cluster-token=${ctx.facts.decision.token}` },
      ]
    },
    async apply(ctx) {
      const t = await ctx.conns.get(m.host)
      const { token } = ctx.facts.decision
      const d = hostData(ctx).replace(/\/+$/, '')
      const remote = `/var/tmp/dr-restore-${token}.db`
      await pipeline(fs.createReadStream(ctx.facts.file), (await t.createWriteStream(remote, { mode: 0o600 })) as Writable)
      const sum = (await t.$`sha256sum ${remote}`.text()).split(/\s+/)[0]
      if (sum !== ctx.facts.metadata.snapshot.sha256) throw new DrError({ code: 'restore.upload-corrupt', message: `the snapshot copied to ${m.host} has sha256 ${sum}, not ${ctx.facts.metadata.snapshot.sha256}`, host: m.host, hint: 'run the restore again' })
      const aside = `${d}.dr-before-restore-${token}`
      await t.$`mkdir -p ${aside} && if [ -e ${d}/member ]; then mv ${d}/member ${aside}/; fi && rm -rf ${d}/dr-restore-tmp`
      await t.$.with({ timeoutMs: 600_000, doing: `restore the snapshot on ${m.host}` })`docker run --rm --net=none -e ETCDCTL_API=3 -v ${d}:/dr-data -v ${remote}:/dr-snapshot.db:ro --entrypoint etcdctl ${m.image} snapshot restore /dr-snapshot.db --data-dir=/dr-data/dr-restore-tmp ${'--name=' + m.name} ${'--initial-cluster=' + ctx.facts.initialCluster} ${'--initial-cluster-token=' + token} ${'--initial-advertise-peer-urls=' + m.peerUrl}`
      await t.$`mv ${d}/dr-restore-tmp/member ${d}/member && rmdir ${d}/dr-restore-tmp && rm -f ${remote} && touch ${markerPath(d, token)}`
    },
    async verify(ctx) {
      const t = await ctx.conns.get(m.host)
      const d = hostData(ctx).replace(/\/+$/, '')
      if (!(await restored(ctx)) || !(await t.$`test -s ${d}/member/snap/db`.nothrow()).ok) throw unverified(`no restored database in ${d}/member on ${m.host}`, m.host)
      return `${d}/member restored; old data in ${d}.dr-before-restore-${ctx.facts.decision.token}`
    },
  }

  const start: Step<RestoreFacts> = {
    id: `start-etcd-${m.host}`,
    title: `Re-create etcd on ${m.host} with the new cluster token and start it`,
    host: m.host,
    destructive: true,
    async check(ctx) {
      const c = await etcdOn(ctx, m.host)
      if (running(c) && tokenOf(c) === ctx.facts.decision.token) return []
      return [{ host: m.host, destructive: true, summary: `re-create ${ctx.inv.etcd.container} with --initial-cluster-token=${ctx.facts.decision.token}, --initial-cluster=${ctx.facts.initialCluster}, restart=${m.restartPolicy.Name}; the old container is kept` }]
    },
    async apply(ctx) {
      const t = await ctx.conns.get(m.host)
      await recreateContainer(t, ctx.inv.etcd.container, {
        setArgs: { '--initial-cluster-token': ctx.facts.decision.token, '--initial-cluster': ctx.facts.initialCluster, '--initial-cluster-state': 'new' },
        restartPolicy: m.restartPolicy,
        keepRunningCheckMs: 2000,
      })
    },
    async verify(ctx) {
      const c = await etcdOn(ctx, m.host)
      if (!running(c) || tokenOf(c) !== ctx.facts.decision.token) throw unverified(`etcd on ${m.host} is not running with the new token`, m.host)
      return `running with --initial-cluster-token=${ctx.facts.decision.token}`
    },
  }
  return [stop, restore, start]
}

const recordDecision: Step<RestoreFacts> = {
  id: 'record-decision',
  title: 'Record the restore (backup, fresh cluster token, members) in the state directory',
  async check(ctx) {
    return ctx.facts.resumed ? [] : [{ summary: `write ${stateFile(ctx.inv.stateDir, ctx.facts.decision.id)} (token ${ctx.facts.decision.token})` }]
  },
  async apply(ctx) {
    await fsp.mkdir(path.dirname(stateFile(ctx.inv.stateDir, ctx.facts.decision.id)), { recursive: true, mode: 0o700 })
    await fsp.writeFile(stateFile(ctx.inv.stateDir, ctx.facts.decision.id), JSON.stringify(ctx.facts.decision, null, 2) + '\n', { mode: 0o600 })
  },
  async verify(ctx) {
    const d = JSON.parse(await fsp.readFile(stateFile(ctx.inv.stateDir, ctx.facts.decision.id), 'utf8')) as RestoreDecision
    if (d.token !== ctx.facts.decision.token) throw unverified('the recorded token differs')
  },
}

export const restoreRunbook: Runbook<RestoreFacts> = {
  name: 'backup-restore',
  title: 'full-cluster restore from a backup',

  async assess(ctx) {
    const o = opt(ctx.options)
    const inv = ctx.inv
    const etcdHosts = hostsWithRole(inv, 'etcd').map((h) => h.name)
    const { probeCluster } = await import('../etcd/status.ts')
    const status = await probeCluster(ctx.conns, inv, { timeoutMs: 3000 })
    let previous: RestoreDecision | undefined
    try {
      previous = JSON.parse(fs.readFileSync(stateFile(inv.stateDir, o.id), 'utf8')) as RestoreDecision
    } catch {
      previous = undefined
    }
    if (status.verdict.hasQuorum && !previous && !o.force) {
      throw new DrError({
        code: 'restore.quorum-present',
        message: `etcd still has quorum (a linearizable read succeeded through ${status.members.filter((m) => m.quorumRead).map((m) => m.host).join(', ')}): a restore would throw away everything written since the backup`,
        hint: 'a full restore is for when every member is lost; to roll a working cluster back anyway, add --force',
        exit: 'refused',
      })
    }
    // The gate: fetch, decrypt, check every digest and restore into a throwaway etcd. Refusals end here.
    ctx.out.progress(`fetching and verifying backup ${o.id} …`)
    const store = await openNamedStore(inv, ctx.conns, o.store)
    let got
    try {
      got = await fetchSnapshot(store, o.id, { identities: await readIdentities(inv, o.identity) })
    } finally {
      await store.close()
    }
    const view = await restoreThrowaway(got.file, got.scratchDir).catch(async (e) => {
      await got.cleanup()
      throw e
    })
    const file = snapshotFile(inv.stateDir, o.id)
    await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 })
    await fsp.copyFile(got.file, file)
    await fsp.chmod(file, 0o600)
    await got.cleanup()
    ctx.out.progress(`backup ${o.id} verified: revision ${view.revision}, ${view.keyCount} keys`)

    const members = previous?.members ?? (await Promise.all(etcdHosts.map((h) => readMember(ctx, h))))
    const decision: RestoreDecision = previous ?? {
      id: o.id,
      token: `dr-restore-${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'z').toLowerCase()}`,
      startedAt: new Date().toISOString(),
      sha256: got.metadata.snapshot.sha256,
      members,
    }
    return { decision, metadata: got.metadata, file, initialCluster: members.map((m) => `${m.name}=${m.peerUrl}`).join(','), resumed: !!previous }
  },

  describe(f) {
    const m = f.metadata
    return [
      `backup ${m.id}: revision ${m.revision}${m.keyCount !== undefined ? `, ${m.keyCount} keys` : ''}, taken ${m.createdAt} from ${m.member.host} — verified by a throwaway restore`,
      `every etcd member is restored from it with the fresh token ${f.decision.token} (a new cluster ID: old members cannot merge back): ${f.initialCluster}`,
      'nothing is deleted: each old data dir is kept as <dataDir>.dr-before-restore-<token>, each old container as etcd-old-<time>',
      ...(f.resumed ? [`resuming the restore started at ${f.decision.startedAt}`] : []),
    ]
  },

  steps(f) {
    const per = f.decision.members.map(memberSteps)
    // All members stop before any is restored, and all are restored before any starts.
    return [recordDecision, ...per.map((s) => s[0]), ...per.map((s) => s[1]), ...per.map((s) => s[2])]
  },

  async finalVerify(ctx) {
    const f = ctx.facts
    const { connectMember } = await import('../etcd/client.ts')
    const { waitWritable, keyCount } = await import('../etcd/ops.ts')
    const out: string[] = []
    const first = f.decision.members[0].host
    const conn = await connectMember(ctx.conns, ctx.inv, first, { callTimeoutMs: 5000 })
    try {
      await waitWritable(conn.client, `restore-${f.decision.token}`, 60_000, first)
      out.push(`quorum read and write through ${first}: ok`)
      const members = (await conn.client.cluster.memberList({})).members
      if (members.length !== f.decision.members.length) throw unverified(`${members.length} members listed, ${f.decision.members.length} restored`)
      out.push(`members: ${members.map((m) => m.name).join(', ')}`)
      const status = await conn.client.maintenance.status()
      const keys = await keyCount(conn.client)
      const want = f.metadata.keyCount
      // waitWritable added one key; kube-apiservers may add more, never fewer.
      if (want !== undefined && keys < want) throw unverified(`${keys} keys after the restore, fewer than the ${want} in the backup`)
      if (Number(status.header.revision) < f.metadata.revision) throw unverified(`revision ${status.header.revision} is below the backup's ${f.metadata.revision}`)
      out.push(`keys: ${keys} (backup: ${want ?? 'not recorded'}), revision ${status.header.revision} ≥ ${f.metadata.revision}`)
    } finally {
      await conn.close()
    }
    return out
  },
}
