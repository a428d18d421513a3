// Re-create a container with an edited command, keeping the old one: the mechanism failover uses on etcd and
// kube-apiserver. Old: `docker update --restart=no`, stop, rename to NAME-old-<time>. New: created through the
// Engine API from the exact arrays, started, watched. On failure the new one goes and the old one comes back.
// A small state file on the host records each phase, so a run killed anywhere can be re-run and converges.
import { DrError, isDrError } from '../core/error.ts'
import type { Transport } from '../transport/types.ts'
import { addArgs, removeFlag, setFlag } from './command-flags.ts'
import { anonymousVolumes, createBody } from './create-body.ts'
import { Engine } from './engine.ts'
import { editProcess, processOf, sameList } from './entrypoint.ts'
import type { ContainerInspect, ImageInspect } from './inspect.ts'
import { containerName, inspectContainer, inspectImage } from './inspect.ts'
import { clearState, readState, writeState, type RecreateState } from './recreate-state.ts'
import { buildRunCommand, type EngineDefaults } from './run-command.ts'
import { engineDefaults } from './engine-defaults.ts'

export interface RecreateOptions {
  /** Flags to set (`--initial-cluster` or `initial-cluster` → value), in the form each is written. */
  setArgs?: Record<string, string>
  removeArgs?: string[]
  /** Words to append (each only when not already there), e.g. ['--force-new-cluster']. */
  addArgs?: string[]
  transformArgs?: (args: string[]) => string[]
  /** Name of the kept old container (default NAME-old-<UTC time>). */
  renameOldTo?: string
  /** How long the new container must stay up (default 5000 ms). */
  keepRunningCheckMs?: number
  restartPolicy?: { Name: string; MaximumRetryCount?: number }
  dryRun?: boolean
  /** Plan display only: the name the command is printed with. */
  name?: string
  /** Mount the old container's anonymous volumes in the new one (default true: their data carries over). */
  reuseAnonymousVolumes?: boolean
  /** Edit the bind mounts (`/host/path:/container/path[:opts]`), e.g. to move a data dir to another host path. */
  binds?: (binds: string[], container: ContainerInspect) => string[]
  /** Where the host-side state file lives (default /var/lib/dr/recreate). */
  stateDir?: string
  engine?: EngineDefaults
}

export type RestartPolicy = { Name: string; MaximumRetryCount?: number }

/** The edited process arguments (everything after the executable). */
export function editArgs(args: string[], opts: RecreateOptions): string[] {
  let out = args
  for (const f of opts.removeArgs ?? []) out = removeFlag(out, f)
  for (const [f, v] of Object.entries(opts.setArgs ?? {})) out = setFlag(out, f, v)
  if (opts.addArgs?.length) out = addArgs(out, opts.addArgs)
  if (opts.transformArgs) out = opts.transformArgs(out)
  return out
}

const policyText = (p: RestartPolicy | undefined): string =>
  !p?.Name ? 'no' : p.Name === 'on-failure' && p.MaximumRetryCount ? `on-failure:${p.MaximumRetryCount}` : p.Name

/** What a re-creation will do, without doing it: the printed command and the changes in words. Pure. */
export function planRecreate(inspect: ContainerInspect, image: ImageInspect | null, opts: RecreateOptions = {}): { argv: string[]; changes: string[]; inexact: string[] } {
  const process = editProcess(inspect.Config, (args) => editArgs(args, opts))
  const edited: ContainerInspect = { ...withBinds(inspect, opts), Config: { ...inspect.Config, ...process } }
  const run = buildRunCommand(edited, image, { name: opts.name, engine: opts.engine, restartPolicy: opts.restartPolicy })
  const before = processOf(inspect.Config)
  const after = processOf(edited.Config)
  const changes: string[] = []
  const removed = before.args.filter((a) => !after.args.includes(a))
  const added = after.args.filter((a) => !before.args.includes(a))
  for (const a of removed) changes.push(`remove argument ${a}`)
  for (const a of added) changes.push(`add argument ${a}`)
  if (removed.length === 0 && added.length === 0 && !sameList(before.args, after.args)) changes.push('reorder arguments')
  const bindsBefore = inspect.HostConfig.Binds ?? []
  const bindsAfter = edited.HostConfig.Binds ?? []
  for (const b of bindsBefore) if (!bindsAfter.includes(b)) changes.push(`remove volume ${b}`)
  for (const b of bindsAfter) if (!bindsBefore.includes(b)) changes.push(`add volume ${b}`)
  if (opts.restartPolicy && policyText(opts.restartPolicy) !== policyText(inspect.HostConfig.RestartPolicy as RestartPolicy)) {
    changes.push(`restart policy ${policyText(inspect.HostConfig.RestartPolicy as RestartPolicy)} → ${policyText(opts.restartPolicy)}`)
  }
  return { argv: run.argv, changes, inexact: run.inexact }
}

const withBinds = (c: ContainerInspect, opts: RecreateOptions): ContainerInspect =>
  opts.binds ? { ...c, HostConfig: { ...c.HostConfig, Binds: opts.binds([...(c.HostConfig.Binds ?? [])], c) } } : c

/** NAME-old-20261121T224501Z */
export function keptName(name: string, now = new Date()): string {
  return `${name}-old-${now.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '')}`
}

/** NAME-old-<time>, with -2, -3… when a re-creation in the same second already took it. */
async function freeKeptName(engine: Engine, name: string): Promise<string> {
  const base = keptName(name)
  let candidate = base
  for (let i = 2; await engine.inspect(candidate); i++) candidate = `${base}-${i}`
  return candidate
}

async function tryInspect(t: Transport, name: string): Promise<ContainerInspect | undefined> {
  try {
    return await inspectContainer(t, name)
  } catch (e) {
    if (isDrError(e) && e.code === 'container.not-found') return undefined
    throw e
  }
}

async function keptCopies(t: Transport, name: string): Promise<string[]> {
  const r = await t.$`docker ps -a --format {{.Names}}`.nothrow()
  const re = new RegExp(`^${name.replace(/[.]/g, '\\.')}-old-`)
  return r.stdout.split('\n').filter((n) => re.test(n)).sort()
}

/**
 * A container under NAME that is not the recorded old one is removed only when this re-creation made it: its id is
 * the recorded new one, or (killed between the create call and recording its id) it was created within the window
 * recorded just before the create call, by the host's own clock. A stale state file never removes anything else.
 */
export function madeByThisRun(current: Pick<ContainerInspect, 'Id' | 'Created'>, state: Pick<RecreateState, 'newId' | 'phase' | 'createAfter'>): boolean {
  if (state.newId) return current.Id === state.newId.trim()
  if (state.phase === 'stopping-old' || state.createAfter === undefined) return false
  const created = Date.parse(current.Created ?? '') / 1000
  return Number.isFinite(created) && created >= state.createAfter - 2 && created <= state.createAfter + 300
}

/** The container to re-create from, repairing what a killed run left behind. */
async function findSource(t: Transport, name: string, stateDir: string | undefined, dryRun = false): Promise<{ source: ContainerInspect; policy: RestartPolicy; wasRunning: boolean; resumed?: RecreateState }> {
  const state = await readState(t, name, stateDir)
  const current = await tryInspect(t, name)
  if (state) {
    // A run was killed. The old container (by id) is the source; a new one it may have created was never verified.
    const old = await tryInspect(t, state.oldId)
    if (!old) {
      throw new DrError({ code: 'container.recreate-lost', message: `a re-creation of ${name} on ${t.host} was interrupted and its old container ${state.oldId.slice(0, 12)} is gone`, host: t.host, hint: `inspect by hand (docker ps -a), then remove the state file ${state.file}` })
    }
    if (current && current.Id !== state.oldId) {
      if (!madeByThisRun(current, state)) {
        throw new DrError({
          code: 'container.recreate-foreign',
          message: `${state.file} on ${t.host} records an interrupted re-creation of ${name} (started ${state.startedAt}, old container ${state.oldId.slice(0, 12)}), but the ${name} there now (${current.Id.slice(0, 12)}, created ${current.Created}) is not one it made: dr leaves it alone`,
          host: t.host,
          hint: `if ${name} is the one you want, remove the stale ${state.file} and run again; if not, put the old one back by hand (docker rename ${state.oldName} ${name})`,
          exit: 'refused',
        })
      }
      if (!dryRun) await t.$.with({ doing: `remove the unverified new ${name} of the interrupted run` })`docker rm -f ${current.Id}`
    }
    return { source: old, policy: state.restartPolicy, wasRunning: state.wasRunning ?? true, resumed: state }
  }
  if (current) {
    const wasRunning = !!(current.State?.Running || current.State?.Restarting)
    return { source: current, policy: (current.HostConfig.RestartPolicy ?? { Name: 'no' }) as RestartPolicy, wasRunning }
  }
  const kept = await keptCopies(t, name)
  throw new DrError({
    code: 'container.not-found',
    message: kept.length
      ? `there is no container named ${name} on ${t.host}, only kept copies from earlier re-creations: ${kept.join(', ')} (no interrupted re-creation is recorded, so dr will not pick one)`
      : `there is no container named ${name} on ${t.host}`,
    host: t.host,
    hint: kept.length
      ? `to bring the newest back: docker rename ${kept[kept.length - 1]} ${name} && docker update --restart=always ${name} && docker start ${name} (use its original restart policy), then run again`
      : `list containers with: docker ps -a`,
  })
}

export interface RecreateResult {
  oldName: string
  newId: string
  argv: string[]
  changes: string[]
}

export async function recreateContainer(t: Transport, name: string, opts: RecreateOptions): Promise<RecreateResult> {
  // The engine connection is set up while the source is read: both are round trips to the host.
  const opening = Engine.open(t)
  opening.catch(() => undefined) // awaited below; a failure is reported there
  try {
    const { source, policy, wasRunning, resumed } = await findSource(t, name, opts.stateDir, opts.dryRun)
    if (source.HostConfig.AutoRemove) {
      throw new DrError({ code: 'container.autoremove', message: `${name} on ${t.host} was started with --rm: stopping it would delete it, so it cannot be kept`, host: t.host, hint: 'print its command with `dr container run-command` and re-create it by hand', exit: 'refused' })
    }
    const [image, engine] = await Promise.all([inspectImage(t, source.Image), opening])
    const restartPolicy = opts.restartPolicy ?? policy
    const sourceView: ContainerInspect = { ...source, HostConfig: { ...source.HostConfig, RestartPolicy: policy } }
    const engineInfo = opts.engine ?? (await engineDefaults(engine, t))
    const plan = planRecreate(sourceView, image, { ...opts, name, restartPolicy, engine: engineInfo })
    if (opts.dryRun) return { oldName: resumed?.oldName ?? opts.renameOldTo ?? keptName(name), newId: '', argv: plan.argv, changes: plan.changes }
    const oldName = resumed?.oldName ?? opts.renameOldTo ?? (await freeKeptName(engine, name))
    const state: RecreateState = resumed ?? { name, oldId: source.Id, oldName, restartPolicy: policy, wasRunning, phase: 'stopping-old', startedAt: new Date().toISOString() }
    await writeState(t, state, opts.stateDir)
    try {
      // Keep the old one: no restart (a docker restart must not bring back a second etcd), stopped, renamed.
      // Through the Engine API connection already open: each docker CLI call costs a process start on the host.
      await engine.setRestartPolicy(source.Id, { Name: 'no' })
      await engine.stopContainer(source.Id)
      if (containerName(source) !== oldName) await engine.renameContainer(source.Id, oldName)
    } catch (e) {
      await rollback(t, { name, newId: '', oldId: source.Id, oldName, policy, wasRunning })
      await clearState(t, name, opts.stateDir)
      throw e
    }
    // The host's clock just before the create call: a run killed before it records the new id can still tell its
    // own container from anyone else's (madeByThisRun).
    const createAfter = Number((await t.$.with({ doing: 'read the host clock' })`date +%s`.text()).trim())
    await writeState(t, { ...state, phase: 'creating-new', createAfter }, opts.stateDir)

    const process = editProcess(source.Config, (args) => editArgs(args, opts))
    const reuse = opts.reuseAnonymousVolumes === false ? [] : anonymousVolumes(source)
    const req = createBody(withBinds(source, opts), image, { process, restartPolicy, reuseVolumes: reuse })
    let newId = ''
    try {
      newId = await engine.createContainer(name, req.body)
      await writeState(t, { ...state, phase: 'starting-new', createAfter, newId }, opts.stateDir)
      for (const n of req.extraNetworks) await engine.connectNetwork(n.name, newId, n.config)
      await engine.startContainer(newId)
      await watchRunning(engine, newId, opts.keepRunningCheckMs ?? 5000)
    } catch (e) {
      const logs = newId ? await engine.logsTail(newId, 30).catch(() => '') : ''
      await rollback(t, { name, newId, oldId: source.Id, oldName, policy, wasRunning })
      await clearState(t, name, opts.stateDir)
      throw new DrError({
        code: 'container.recreate-failed',
        message: `the new ${name} on ${t.host} did not stay up; the old one is back under its name${wasRunning ? ' and started' : ' (stopped, as it was)'}`,
        host: t.host,
        doing: `re-create ${name}`,
        stderr: logs || (isDrError(e) ? e.stderr ?? e.message : String(e)),
        hint: `the change that failed: ${plan.changes.join('; ') || 'none (a plain copy)'}; see the logs above`,
        cause: e,
      })
    }
    await clearState(t, name, opts.stateDir)
    return { oldName, newId, argv: plan.argv, changes: plan.changes }
  } finally {
    const engine = await opening.catch(() => undefined)
    await engine?.close()
  }
}

/** Poll until the container has run for `ms` without exiting or restarting. */
async function watchRunning(engine: Engine, id: string, ms: number): Promise<void> {
  const until = Date.now() + ms
  let first: number | undefined
  for (;;) {
    const c = await engine.inspect<ContainerInspect>(id)
    if (!c) throw new DrError({ code: 'container.exited', message: `the new container ${id.slice(0, 12)} is gone`, host: engine.host })
    first ??= c.RestartCount ?? 0
    if (!c.State?.Running || c.State.Restarting || (c.RestartCount ?? 0) !== first) {
      throw new DrError({ code: 'container.exited', message: `the container exited (status ${c.State?.Status}, exit code ${c.State?.ExitCode})`, host: engine.host })
    }
    if (Date.now() >= until) return
    await new Promise((r) => setTimeout(r, Math.min(250, Math.max(50, until - Date.now()))))
  }
}

/**
 * Put the old container back and prove it: every command's result is checked, then the container under NAME must
 * be the old one (by id), with its restart policy, running if it was. Anything less is an error that says what is
 * where; the state file then stays, so a re-run resumes.
 */
async function rollback(t: Transport, r: { name: string; newId: string; oldId: string; oldName: string; policy: RestartPolicy; wasRunning: boolean }): Promise<void> {
  const failed: string[] = []
  // Only the container this run created is removed; a failed create leaves nothing of ours under NAME.
  if (r.newId) {
    const rm = await t.$`docker rm -f ${r.newId}`.nothrow()
    if (!rm.ok && !/No such container/i.test(rm.stderr)) failed.push(`docker rm -f ${r.newId}: ${rm.stderr.trim()}`)
  }
  const holder = await tryInspect(t, r.name)
  const steps = [
    ...(holder?.Id === r.oldId ? [] : [['docker', 'rename', r.oldId, r.name]]),
    ['docker', 'update', `--restart=${policyText(r.policy)}`, r.oldId],
    // Back as it was: started only if it was running before.
    ...(r.wasRunning ? [['docker', 'start', r.oldId]] : []),
  ]
  for (const argv of steps) {
    const res = await t.$`${argv}`.nothrow()
    if (!res.ok) failed.push(`${argv.join(' ')}: ${res.stderr.trim()}`)
  }
  // Read it back: the name, the id, the policy, and (when it ran before) still running a moment later.
  if (r.wasRunning) await new Promise((ok) => setTimeout(ok, 1000))
  const back = await tryInspect(t, r.name)
  if (!back || back.Id !== r.oldId) failed.push(`${r.name} is ${back ? `container ${back.Id.slice(0, 12)}, not the old ${r.oldId.slice(0, 12)}` : 'missing'}`)
  else {
    if (policyText(back.HostConfig.RestartPolicy as RestartPolicy) !== policyText(r.policy)) failed.push(`${r.name} has restart policy ${policyText(back.HostConfig.RestartPolicy as RestartPolicy)}, not ${policyText(r.policy)}`)
    if (r.wasRunning && !back.State?.Running) failed.push(`the old ${r.name} did not stay up after docker start (status ${back.State?.Status}, exit code ${back.State?.ExitCode})`)
  }
  if (failed.length > 0) {
    throw new DrError({
      code: 'container.rollback-failed',
      message: `the new ${r.name} on ${t.host} failed, and putting the old one (${r.oldName}, ${r.oldId.slice(0, 12)}) back failed too: it is NOT back`,
      host: t.host,
      evidence: failed,
      hint: `fix the cause, then run the same re-creation again (it resumes from the kept old container), or by hand: docker rename ${r.oldId.slice(0, 12)} ${r.name}; docker update --restart=${policyText(r.policy)} ${r.name}; docker start ${r.name}`,
    })
  }
}
