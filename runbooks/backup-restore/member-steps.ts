// Per etcd host: stop etcd, restore the snapshot into its data dir (the old data moved aside), run etcd again
// with the new token — through the host's etcd component: an RKE container (stopped with restart policy off,
// re-created exactly) or a kubeadm static pod (manifest moved out, edited and moved back; the kubelet runs it). Each host also keeps a marker naming the backup and the token beside its data dir: that is
// how a later run — from any state directory — reads from the cluster that the restore is done.
import fs from 'node:fs'
import { pipeline } from 'node:stream/promises'
import type { Writable } from 'node:stream'
import { DrError } from '../../src/core/error.ts'
import { getFlag } from '../../src/container/command-flags.ts'
import type { Step, StepContext } from '../../src/runbook/types.ts'
import type { Transport } from '../../src/transport/types.ts'
import { componentOf, type Component, type ComponentState } from '../steps/containers.ts'
import { runtimeFor } from '../../src/component/index.ts'
import type { BackupMetadata } from '../../src/backup/metadata.ts'
import type { RestoreDecision, RestoreMember } from './state.ts'

export interface RestoreFacts {
  decision: RestoreDecision
  metadata: BackupMetadata
  /** The verified raw snapshot on this machine. */
  file: string
  initialCluster: string
  resumed: boolean
  /** Every member already runs this backup's restore (read from the hosts, not the state directory). */
  doneOnCluster: boolean
  /** A state file of this restore is in the state directory. */
  recordedHere: boolean
}

export const markerPath = (dataDir: string, token: string) => `${dataDir.replace(/\/+$/, '')}.dr-restored-${token}`

export const unverified = (message: string, host?: string) =>
  new DrError({ code: 'restore.unverified', message, host, exit: 'unverified', hint: 'read the journal, fix the cause, and run `dr backup restore` again: it resumes' })

/** A container of the component runs (whatever its flags). */
const running = (s: ComponentState | undefined) => !!s?.container?.State?.Running
export const tokenOf = (s: ComponentState | undefined) => (s ? getFlag(s.argv, '--initial-cluster-token') : undefined)

async function etcdComponent(ctx: Pick<StepContext<unknown>, 'inv' | 'conns'>, host: string): Promise<Component> {
  return componentOf(ctx.inv, await ctx.conns.get(host), 'etcd')
}
async function etcdOn(ctx: StepContext<RestoreFacts>, host: string) {
  return (await etcdComponent(ctx, host)).state()
}

/** The backup id a host's marker names for `token`, or undefined (no marker, or an older empty one). */
export async function markerBackup(t: Transport, dataDir: string, token: string): Promise<string | undefined> {
  const r = await t.$`cat ${markerPath(dataDir, token)}`.nothrow()
  if (!r.ok || !r.stdout.trim()) return undefined
  try {
    return (JSON.parse(r.stdout) as { id?: string }).id
  } catch (e) {
    throw new DrError({ code: 'restore.marker-corrupt', message: `the restore marker ${markerPath(dataDir, token)} on ${t.host} is not JSON`, host: t.host, hint: 'look at it; move it aside if it is not dr\'s, then run again', cause: e })
  }
}

/**
 * A private directory on the host for the snapshot copy: mktemp -d makes it atomically, mode 0700, under a name
 * nobody can guess or plant a symlink at. Removed on every exit path.
 */
async function withPrivateDir<T>(t: Transport, warn: (s: string) => void, use: (dir: string) => Promise<T>): Promise<T> {
  const dir = (await t.$.with({ doing: 'make a private temporary directory' })`mktemp -d /var/tmp/dr-restore.XXXXXXXXXX`.text()).trim()
  if (!/^\/var\/tmp\/dr-restore\.[A-Za-z0-9]+$/.test(dir)) throw new DrError({ code: 'restore.tempdir', message: `mktemp on ${t.host} answered ${JSON.stringify(dir)}`, host: t.host })
  try {
    return await use(dir)
  } finally {
    const rm = await t.$`rm -rf ${dir}`.nothrow()
    // The copy holds every Secret of the cluster: say loudly when it could not be removed.
    if (!rm.ok) warn(`could not remove ${dir} on ${t.host} (a copy of the snapshot): ${rm.stderr.trim()}; remove it by hand`)
  }
}

export function memberSteps(m: RestoreMember): Step<RestoreFacts>[] {
  const hostData = (ctx: StepContext<RestoreFacts>) => ctx.inv.etcd.dataDir.replace(/\/+$/, '')
  const restored = async (ctx: StepContext<RestoreFacts>) => {
    const t = await ctx.conns.get(m.host)
    return (await markerBackup(t, hostData(ctx), ctx.facts.decision.token)) === ctx.facts.decision.id
  }

  const stop: Step<RestoreFacts> = {
    id: `stop-etcd-${m.host}`,
    title: `Stop etcd on ${m.host} and keep it from restarting`,
    host: m.host,
    destructive: true,
    async check(ctx) {
      if (await restored(ctx)) return []
      const c = await etcdComponent(ctx, m.host)
      const s = await c.state()
      if (!s) throw new DrError({ code: 'restore.no-etcd', message: `there is no etcd on ${m.host} (${c.kind === 'container' ? `container ${ctx.inv.etcd.container}` : 'no manifest, live or stopped'})`, host: m.host, hint: 'put etcd back in place as the cluster\'s installer would, then run again', exit: 'refused' })
      if (!running(s) && s.stopped) return []
      return [{ host: m.host, destructive: true, summary: c.kind === 'container' ? `docker update --restart=no ${ctx.inv.etcd.container}; docker stop ${ctx.inv.etcd.container}` : `stop the etcd static pod: move ${s.where} to the stopped manifests (/etc/kubernetes/dr/stopped/)` }]
    },
    async apply(ctx) {
      await (await etcdComponent(ctx, m.host)).stop({ timeoutMs: 30_000 })
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
        { host: m.host, summary: `etcdctl snapshot restore --name=${m.name} --initial-advertise-peer-urls=${m.peerUrl} --initial-cluster-token=${ctx.facts.decision.token} (the snapshot copied to a private mktemp -d directory, removed afterwards)` },
      ]
    },
    async apply(ctx) {
      const t = await ctx.conns.get(m.host)
      const { token, id } = ctx.facts.decision
      const d = hostData(ctx)
      await withPrivateDir(t, (w) => ctx.out.warn(w), async (dir) => {
        const remote = `${dir}/snapshot.db`
        await pipeline(fs.createReadStream(ctx.facts.file), (await t.createWriteStream(remote, { mode: 0o600 })) as Writable)
        const sum = (await t.$`sha256sum ${remote}`.text()).split(/\s+/)[0]
        if (sum !== ctx.facts.metadata.snapshot.sha256) throw new DrError({ code: 'restore.upload-corrupt', message: `the snapshot copied to ${m.host} has sha256 ${sum}, not ${ctx.facts.metadata.snapshot.sha256}`, host: m.host, hint: 'run the restore again' })
        const aside = `${d}.dr-before-restore-${token}`
        await t.$`mkdir -p ${aside} && if [ -e ${d}/member ]; then mv ${d}/member ${aside}/; fi && rm -rf ${d}/dr-restore-tmp`
        await runtimeFor(ctx.inv, m.host).runOnce(t, {
          image: m.image,
          env: { ETCDCTL_API: '3' },
          binds: [[d, '/dr-data'], [remote, '/dr-snapshot.db', true]],
          argv: ['etcdctl', 'snapshot', 'restore', '/dr-snapshot.db', '--data-dir=/dr-data/dr-restore-tmp', `--name=${m.name}`, `--initial-cluster=${ctx.facts.initialCluster}`, `--initial-cluster-token=${token}`, `--initial-advertise-peer-urls=${m.peerUrl}`],
          doing: `restore the snapshot on ${m.host}`,
        })
        const marker = JSON.stringify({ id, token, sha256: ctx.facts.metadata.snapshot.sha256, restoredAt: new Date().toISOString() })
        await t.$.with({ input: marker + '\n' })`mv ${d}/dr-restore-tmp/member ${d}/member && rmdir ${d}/dr-restore-tmp && cat > ${markerPath(d, token)}`
      })
    },
    async verify(ctx) {
      const t = await ctx.conns.get(m.host)
      const d = hostData(ctx)
      if (!(await restored(ctx)) || !(await t.$`test -s ${d}/member/snap/db`.nothrow()).ok) throw unverified(`no restored database in ${d}/member on ${m.host}`, m.host)
      return `${d}/member restored; old data in ${d}.dr-before-restore-${ctx.facts.decision.token}`
    },
  }

  const edit = (ctx: StepContext<RestoreFacts>) => ({
    setArgs: { '--initial-cluster-token': ctx.facts.decision.token, '--initial-cluster': ctx.facts.initialCluster, '--initial-cluster-state': 'new' },
    // A container's own policy; a static pod has the kubelet's (always).
    ...(m.kind === 'static-pod' ? {} : { restartPolicy: m.restartPolicy }),
  })
  const start: Step<RestoreFacts> = {
    id: `start-etcd-${m.host}`,
    title: `Re-create etcd on ${m.host} with the new cluster token and start it`,
    host: m.host,
    destructive: true,
    async check(ctx) {
      const s = await etcdOn(ctx, m.host)
      if (s?.running && tokenOf(s) === ctx.facts.decision.token) return []
      const c = await etcdComponent(ctx, m.host)
      const d = s ? await c.describe(edit(ctx)) : undefined
      return [{ host: m.host, destructive: true, summary: `${d?.summary ?? 'run etcd'}: --initial-cluster-token=${ctx.facts.decision.token}, --initial-cluster=${ctx.facts.initialCluster}`, command: d?.detail }]
    },
    async apply(ctx) {
      await (await etcdComponent(ctx, m.host)).reconfigure(edit(ctx), { keepRunningCheckMs: 2000 })
    },
    async verify(ctx) {
      const s = await etcdOn(ctx, m.host)
      if (!s?.running || tokenOf(s) !== ctx.facts.decision.token) throw unverified(`etcd on ${m.host} is not running with the new token`, m.host)
      return `running with --initial-cluster-token=${ctx.facts.decision.token}`
    },
  }
  return [stop, restore, start]
}

export async function readMember(ctx: Pick<StepContext<unknown>, 'inv' | 'conns'>, host: string): Promise<RestoreMember> {
  const comp = await etcdComponent(ctx, host)
  const s = await comp.state()
  if (!s) throw new DrError({ code: 'restore.no-etcd', message: `there is no etcd on ${host} (${comp.kind === 'container' ? `container ${ctx.inv.etcd.container}` : 'no manifest, live or stopped'})`, host, hint: 'a restore re-uses each member\'s etcd (its image and flags): put it back in place as the cluster\'s installer would, then run again', exit: 'refused' })
  const name = getFlag(s.argv, '--name')
  const peerUrl = getFlag(s.argv, '--initial-advertise-peer-urls')?.split(',')[0]
  if (!name || !peerUrl) throw new DrError({ code: 'restore.member-flags', message: `etcd on ${host} (${s.where}) has no --name or --initial-advertise-peer-urls`, host, hint: 'restore needs etcd run with explicit --name and --initial-advertise-peer-urls (as RKE and kubeadm write them)', exit: 'refused' })
  const policy = s.container?.HostConfig?.RestartPolicy as RestoreMember['restartPolicy'] | undefined
  // A stopped member may have had its policy set to "no" by hand; RKE creates etcd with "always".
  const restartPolicy = comp.kind === 'container' && policy && policy.Name && policy.Name !== 'no' ? policy : { Name: 'always' }
  return { host, name, peerUrl, image: s.container?.Config?.Image ?? s.image, restartPolicy, kind: comp.kind }
}
