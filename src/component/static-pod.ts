// The kubeadm kind of component: a static pod, i.e. a manifest in /etc/kubernetes/manifests that the kubelet
// runs. Edits go through the YAML document (comments kept) and are written atomically: a temporary file outside
// the watched directory, fsync, rename into place — the kubelet never reads half a manifest. "Stop" moves the
// manifest out (so it stays stopped across reboots) and waits for the container to go; the old manifest of a
// re-configuration is kept outside the manifests directory. Containers are found by the labels the kubelet's
// runtime puts on them (io.kubernetes.container.name, io.kubernetes.pod.namespace), through the host's runtime:
// docker or containerd (runtime.ts).
import path from 'node:path'
import { DrError } from '../core/error.ts'
import type { ContainerInspect } from '../container/inspect.ts'
import { processArgv } from '../container/inspect.ts'
import type { Transport } from '../transport/types.ts'
import { sameArgv } from './container.ts'
import { dockerRuntime, type PodRuntime } from './runtime.ts'
import { editManifestFlags, lineDiff, manifestArgv, manifestImage, parseManifest, renderManifest } from './manifest.ts'
import type { Component, ComponentEdit, ComponentName, ComponentState } from './types.ts'
import { describeEdit, pollUntil } from './wait.ts'

export const MANIFEST_DIR = '/etc/kubernetes/manifests'
/** dr's own files beside the manifests directory (same filesystem, so a rename into it is atomic). */
export const DR_MANIFEST_DIR = '/etc/kubernetes/dr'

export const stamp = (d = new Date()) => d.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '')

export class StaticPodComponent implements Component {
  readonly kind = 'static-pod' as const
  readonly host: string
  readonly manifest: string
  readonly stash: string
  constructor(
    private readonly t: Transport,
    readonly name: ComponentName,
    readonly manifestDir = MANIFEST_DIR,
    readonly drDir = DR_MANIFEST_DIR,
    readonly runtime: PodRuntime = dockerRuntime,
  ) {
    this.host = t.host
    this.manifest = path.posix.join(manifestDir, `${name}.yaml`)
    this.stash = path.posix.join(drDir, 'stopped', `${name}.yaml`)
  }

  private async read(file: string): Promise<string | undefined> {
    const r = await this.t.$.with({ timeoutMs: 20_000 })`if [ -f ${file} ]; then cat -- ${file}; else echo __dr_absent__ >&2; exit 3; fi`.nothrow()
    if (r.ok) return r.stdout
    if (r.exitCode === 3 && r.stderr.includes('__dr_absent__')) return undefined
    throw new DrError({ code: 'component.read-failed', message: `cannot read ${file} on ${this.host}`, host: this.host, stderr: r.stderr.trim(), hint: 'check the inventory\'s ssh user and sudo setting' })
  }

  /** The live manifest, else the stashed one (stopped); undefined when neither exists. */
  private async current(): Promise<{ file: string; text: string; stopped: boolean } | undefined> {
    const live = await this.read(this.manifest)
    if (live !== undefined) return { file: this.manifest, text: live, stopped: false }
    const stashed = await this.read(this.stash)
    return stashed === undefined ? undefined : { file: this.stash, text: stashed, stopped: true }
  }

  /** The manifest's text (the live one, else the stashed one while stopped); undefined when neither exists. */
  async text(): Promise<string | undefined> {
    return (await this.current())?.text
  }

  /**
   * Install a manifest that does not run yet: written atomically to the stash (as if stopped), so start() or
   * reconfigure() moves it into the manifests directory. Refused when the host already has a manifest.
   */
  async installStopped(text: string): Promise<void> {
    if (await this.current()) {
      throw new DrError({ code: 'component.exists', message: `${this.host} already has a ${this.name} manifest`, host: this.host, hint: `look at ${this.manifest} and ${this.stash}` })
    }
    parseManifest(text, `the new ${this.name} manifest for ${this.host}`, this.name)
    await writeAtomic(this.t, this.stash, text, this.drDir)
  }

  /** The pod's containers for this component, running or not, newest first (from the host's runtime). */
  containers(): Promise<ContainerInspect[]> {
    return this.runtime.containers(this.t, this.name, 'kube-system')
  }

  async state(): Promise<ComponentState | undefined> {
    const cur = await this.current()
    if (!cur) return undefined
    const m = parseManifest(cur.text, `${cur.file} on ${this.host}`, this.name)
    const argv = manifestArgv(m)
    const cs = await this.containers()
    const runningOne = cs.find((c) => c.State?.Running && sameArgv(processArgv(c), argv))
    return {
      kind: this.kind, name: this.name, host: this.host, where: cur.file, stopped: cur.stopped,
      running: !cur.stopped && !!runningOne, argv, image: manifestImage(m), restartPolicy: 'always',
      container: runningOne ?? cs.find((c) => c.State?.Running) ?? cs[0],
    }
  }

  private async edited(edit: ComponentEdit) {
    const cur = await this.current()
    if (!cur) throw missing(this)
    const m = parseManifest(cur.text, `${cur.file} on ${this.host}`, this.name)
    const changed = editManifestFlags(m, edit)
    return { cur, m, changed, text: renderManifest(m) }
  }

  async describe(edit: ComponentEdit) {
    const e = await this.edited(edit)
    const policy = edit.restartPolicy ? ` (restart=${edit.restartPolicy.Name} does not apply: the kubelet always restarts a static pod)` : ''
    const flags = describeEdit({ ...edit, restartPolicy: undefined })
    const summary = e.changed || e.cur.stopped
      ? `edit ${this.manifest}${flags}${e.cur.stopped ? ` (moved back from ${this.stash})` : ''}; the old manifest is kept in ${this.drDir}/backup/; the kubelet re-creates the pod${policy}`
      : `${this.manifest} already has ${flags.trim() || 'these flags'}; wait for its pod`
    return { summary, detail: lineDiff(e.cur.text, e.text) || undefined }
  }

  async reconfigure(edit: ComponentEdit, opts: { keepRunningCheckMs?: number; timeoutMs?: number } = {}) {
    const e = await this.edited(edit)
    const argv = manifestArgv(e.m)
    let kept = ''
    if (e.changed || e.cur.stopped) {
      kept = path.posix.join(this.drDir, 'backup', `${this.name}.yaml.old-${stamp()}`)
      await writeAtomic(this.t, kept, e.cur.text, this.drDir)
      await writeAtomic(this.t, this.manifest, e.text, this.drDir)
      if (e.cur.stopped) await this.t.$`rm -f -- ${this.stash}`
    }
    try {
      const s = await this.waitRunning({ argv, timeoutMs: opts.timeoutMs ?? 120_000 })
      await this.staysUp(s, opts.keepRunningCheckMs ?? 5000)
    } catch (err) {
      const logs = await this.logs(30)
      if (kept) await writeAtomic(this.t, e.cur.stopped ? this.stash : this.manifest, e.cur.text, this.drDir)
      if (kept && e.cur.stopped) await this.t.$`rm -f -- ${this.manifest}`
      throw new DrError({
        code: 'component.reconfigure-failed',
        message: `${this.name} on ${this.host} did not run and stay up with the edited manifest${kept ? '; the old manifest is back in place' : ''}`,
        host: this.host,
        doing: `reconfigure ${this.name}${describeEdit(edit)}`,
        stderr: logs || String((err as Error).message),
        hint: `look at the kubelet's log and ${kept || this.manifest}`,
        cause: err,
      })
    }
    return { kept, argv }
  }

  /** The container must still be the same one, running, after `ms` (the kubelet starts a new one on a crash). */
  private async staysUp(s: ComponentState, ms: number) {
    if (ms <= 0) return
    await new Promise((r) => setTimeout(r, ms))
    const now = await this.state()
    if (!now?.running || now.container?.Id !== s.container?.Id) {
      throw new DrError({ code: 'component.not-staying-up', message: `${this.name} on ${this.host} exited within ${ms} ms of starting`, host: this.host })
    }
  }

  async stop(opts: { timeoutMs?: number } = {}) {
    const live = await this.read(this.manifest)
    if (live !== undefined) {
      await this.t.$.with({ doing: `move ${this.manifest} out` })`mkdir -p -- ${path.posix.dirname(this.stash)} && mv -f -- ${this.manifest} ${this.stash} && (sync -- ${path.posix.dirname(this.stash)} 2>/dev/null || sync)`
    }
    await pollUntil(`stop of ${this.name} on ${this.host}`, opts.timeoutMs ?? 90_000, async () => ((await this.containers()).some((c) => c.State?.Running) ? undefined : true),
      async () => (await this.containers()).filter((c) => c.State?.Running).map((c) => c.Name).join(', ') + ' still running', 'the kubelet\'s log', this.host)
  }

  async start(opts: { timeoutMs?: number } = {}) {
    const live = await this.read(this.manifest)
    if (live === undefined) {
      const stashed = await this.read(this.stash)
      if (stashed === undefined) throw missing(this)
      await this.t.$.with({ doing: `move ${this.stash} back` })`mv -f -- ${this.stash} ${this.manifest} && (sync -- ${this.manifestDir} 2>/dev/null || sync)`
    }
    return this.waitRunning(opts)
  }

  async waitRunning(opts: { timeoutMs?: number; argv?: string[] } = {}) {
    return pollUntil(`${this.name} pod running on ${this.host}`, opts.timeoutMs ?? 120_000, async () => {
      const s = await this.state()
      return s?.running && (!opts.argv || sameArgv(s.argv, opts.argv)) ? s : undefined
    }, () => this.logs(20), `the kubelet's log and ${this.manifest}`, this.host)
  }

  logHint() {
    return `the kubelet's log and \`${this.runtime.logHint(this.name)}\` on ${this.host}`
  }

  stopCommand() {
    return `mkdir -p ${path.posix.dirname(this.stash)} && mv ${this.manifest} ${this.stash}  # the kubelet stops the pod; it stays stopped across reboots`
  }

  async logs(tail = 50): Promise<string> {
    const c = (await this.containers())[0]
    return c ? this.runtime.logs(this.t, c, tail) : ''
  }
}

/**
 * Write a file so that no reader ever sees it half-written and a power cut leaves the old one or the new one: a
 * temporary file in `drDir`, fsynced, renamed, the directory fsynced (the transport's durable write and rename).
 */
export async function writeAtomic(t: Transport, dest: string, text: string, drDir = DR_MANIFEST_DIR): Promise<void> {
  const tmpDir = path.posix.join(drDir, 'tmp')
  const tmp = path.posix.join(tmpDir, `${path.posix.basename(dest)}.${process.pid}.${Date.now()}`)
  await t.$`mkdir -p -- ${tmpDir} ${path.posix.dirname(dest)}`
  await t.writeFile(tmp, text, { mode: 0o600, durable: true })
  await t.rename(tmp, dest, { durable: true })
}

function missing(c: StaticPodComponent) {
  return new DrError({
    code: 'component.not-found',
    message: `there is no ${c.name} static pod on ${c.host}: neither ${c.manifest} nor ${c.stash}`,
    host: c.host,
    hint: `check that ${c.host} runs ${c.name} (its role in the inventory) and look in ${c.drDir}/backup/ for kept manifests`,
  })
}
