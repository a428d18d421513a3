// The RKE kind of component: a docker container named in the inventory (etcd, kube-apiserver), re-created exactly
// from its inspect (src/container) with the old one kept as NAME-old-<time>.
import { DrError, isDrError } from '../core/error.ts'
import { inspectContainer, inspectImage, processArgv, type ContainerInspect } from '../container/inspect.ts'
import { planRecreate, recreateContainer } from '../container/recreate.ts'
import { formatRunCommand } from '../container/run-command.ts'
import type { Transport } from '../transport/types.ts'
import { describeEdit, pollUntil } from './wait.ts'
import type { Component, ComponentEdit, ComponentName, ComponentState } from './types.ts'

export async function tryInspect(t: Transport, name: string): Promise<ContainerInspect | undefined> {
  try {
    return await inspectContainer(t, name)
  } catch (e) {
    if (isDrError(e) && e.code === 'container.not-found') return undefined
    throw e
  }
}

/** docker update's answers while a container in a restart loop dies under it (docker 20.10; runc's own words). */
export const RESTART_LOOP_RACE = /cannot update a stopped container|cannot update a deleted process|runc did not terminate successfully: exit status \d+: container not running/i

/**
 * `docker update --restart=no` for containers that may be in a restart loop. A removed member exits and its policy
 * starts it again, so it can die between docker's "is it running" and the update: docker then answers "cannot update
 * a stopped container" or "cannot update a deleted process", or passes on runc's "container not running" when it
 * dies during the update itself (RESTART_LOOP_RACE). Those answers are retried for about five seconds; any other is
 * an error.
 */
export async function disableRestart(t: Transport, containers: string | string[]): Promise<void> {
  const names = typeof containers === 'string' ? [containers] : containers
  for (let attempt = 1; ; attempt++) {
    const r = await t.$.with({ doing: `turn off the restart policy of ${names.join(', ')}` })`docker update --restart=no ${names} >/dev/null`.nothrow()
    if (r.ok) return
    if (attempt >= 20 || !RESTART_LOOP_RACE.test(r.stderr)) {
      throw new DrError({ code: 'command.failed', message: `docker update --restart=no ${names.join(' ')} failed on ${t.host}`, host: t.host, stderr: r.stderr.trim(), exitStatus: r.exitCode, hint: `docker ps -a --filter name=${names[0]} on ${t.host}` })
    }
    await new Promise((ok) => setTimeout(ok, 250))
  }
}

export class ContainerComponent implements Component {
  readonly kind = 'container' as const
  readonly host: string
  constructor(
    private readonly t: Transport,
    readonly name: ComponentName,
    /** The docker container's name (inventory: etcd.container, kubernetes.apiserverContainer). */
    readonly container: string,
  ) {
    this.host = t.host
  }

  async state(): Promise<ComponentState | undefined> {
    const c = await tryInspect(this.t, this.container)
    if (!c) return undefined
    const policy = c.HostConfig.RestartPolicy?.Name || 'no'
    const running = !!c.State?.Running
    return {
      kind: this.kind, name: this.name, host: this.host, where: this.container, running,
      stopped: !running && policy === 'no', argv: processArgv(c), image: c.Image, restartPolicy: policy, container: c,
    }
  }

  async describe(edit: ComponentEdit) {
    const c = await tryInspect(this.t, this.container)
    const summary = `re-create ${this.container}${describeEdit(edit)}; the old container is kept as ${this.container}-old-<time>`
    if (!c) return { summary }
    const image = await inspectImage(this.t, c.Image).catch(() => null)
    return { summary, detail: formatRunCommand(planRecreate(c, image, { ...edit, name: this.container }).argv) }
  }

  async reconfigure(edit: ComponentEdit, opts: { keepRunningCheckMs?: number } = {}) {
    const r = await recreateContainer(this.t, this.container, { ...edit, keepRunningCheckMs: opts.keepRunningCheckMs })
    return { kept: r.oldName, argv: r.argv }
  }

  async stop(opts: { timeoutMs?: number } = {}) {
    if (!(await tryInspect(this.t, this.container))) return
    const secs = Math.max(1, Math.round((opts.timeoutMs ?? 30_000) / 1000))
    await disableRestart(this.t, this.container)
    await this.t.$.with({ doing: `stop ${this.container}`, timeoutMs: (secs + 30) * 1000 })`docker stop -t ${secs} ${this.container} >/dev/null`
  }

  async start(opts: { timeoutMs?: number } = {}) {
    await this.t.$.with({ doing: `start ${this.container}` })`docker update --restart=always ${this.container} >/dev/null && docker start ${this.container} >/dev/null`
    return this.waitRunning(opts)
  }

  waitRunning(opts: { timeoutMs?: number; argv?: string[] } = {}) {
    return pollUntil(`${this.container} running on ${this.host}`, opts.timeoutMs ?? 60_000, async () => {
      const s = await this.state()
      return s?.running && (!opts.argv || sameArgv(s.argv, opts.argv)) ? s : undefined
    }, () => this.logs(20), `docker logs --tail 50 ${this.container} on ${this.host}`, this.host)
  }

  logHint() {
    return `docker logs --tail 50 ${this.container} on ${this.host}`
  }

  stopCommand() {
    return `docker update --restart=no ${this.container} && docker stop ${this.container}`
  }

  async logs(tail = 50): Promise<string> {
    const r = await this.t.$.with({ timeoutMs: 20_000 })`docker logs --tail ${String(tail)} ${this.container} 2>&1`.nothrow()
    return r.stdout
  }
}

export const sameArgv = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i])

export function notFound(what: string, host: string, hint: string) {
  return new DrError({ code: 'component.not-found', message: `there is no ${what} on ${host}`, host, hint })
}
