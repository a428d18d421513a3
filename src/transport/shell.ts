// A host's `$` is zx's `$`: zx builds the command (every interpolated value goes through zx's `quote`, never pasted
// as shell code), runs it through the transport's spawn (bash here, an ssh2 channel, `docker exec`), logs it when
// ZX_VERBOSE is set, and brings `.pipe()`, `.quiet()`, `within`, `retry` and `spinner` along. This adapter keeps
// dr's contract on top of zx's ProcessPromise: a result that names its host and command, a DrError
// (`command.failed`) with host, command, exit status and the relevant stderr lines, a timeout that kills the
// command's whole process group, `.nothrow()`, `.text()`, `.json()` and `$.with({ timeoutMs, doing, sudo, input })`.
//
// zx's quote writes bash's `$'…'` for any word that is not plain, so every transport runs commands under bash.
import { $ as zx, quote as zxQuote, type Options, type ProcessOutput, type ProcessPromise } from 'zx'
import { DrError, relevantLines } from '../core/error.ts'
import type { ExecOptions, ExecResult, RemoteShell, ShellPromise } from './types.ts'

// POSIX quoting stays for text that /bin/sh reads (a crontab line, the login shell that starts bash on a host).
export { shQuote, shQuote as quote, shQuoteArgv as quoteArgv } from './sh-quote.ts'

/** How one transport runs a command through zx. */
export interface ShellRunner {
  readonly host: string
  /** zx options that run a command there: a `spawn` for remote hosts, `shell`, `detached` for local ones. */
  options(o: ExecOptions): Partial<Options>
  /** The command as results and errors show it (with its sudo wrapper, if any). */
  shown(command: string, o: ExecOptions): string
  /** Kill a running command and everything it started (its process group). */
  kill(p: ProcessPromise): void
  /** The inventory's command timeout; 0 = none. */
  readonly defaultTimeoutMs?: number
}

/** A failed command as an error value: host, command, exit status, the relevant stderr lines. */
export class CommandError extends DrError {
  readonly result: ExecResult
  constructor(result: ExecResult, doing?: string) {
    const why =
      result.signal === 'TIMEOUT'
        ? `timed out after ${result.durationMs} ms`
        : result.signal
          ? `was killed by ${result.signal}`
          : `exited with status ${result.exitCode}`
    super({
      code: 'command.failed',
      message: `command on ${result.host} ${why}`,
      host: result.host,
      doing,
      command: result.command,
      exitStatus: result.exitCode,
      stderr: relevantLines(result.stderr || result.stdout),
    })
    this.result = result
  }
}

/** A template with no interpolations: run a command string that is already shell (Transport.exec). */
export const literal = (command: string): TemplateStringsArray => Object.assign([command], { raw: [command] })

function checkArgs(args: unknown[]): void {
  for (const a of args.flat()) {
    // zx would interpolate the text "undefined": a missing value is a bug in the caller, never a word to run.
    if (a === undefined || a === null) throw new TypeError('a value interpolated into a command is undefined')
  }
}

function toResult(runner: ShellRunner, o: ExecOptions, pp: ProcessPromise, out: ProcessOutput, timedOut: boolean): ExecResult {
  const cause = out.cause as Error | null
  const stderr = out.stderr || (cause ? cause.message : '')
  return {
    host: runner.host,
    command: runner.shown(pp.cmd, o),
    exitCode: out.exitCode,
    signal: timedOut ? 'TIMEOUT' : out.signal,
    stdout: out.stdout,
    stderr,
    durationMs: out.duration,
    ok: out.exitCode === 0 && !timedOut && !cause,
  }
}

function badJson(r: ExecResult, e: unknown): DrError {
  return new DrError({ code: 'command.bad-json', message: `command on ${r.host} did not print JSON`, host: r.host, command: r.command, stderr: r.stdout.slice(0, 500), cause: e })
}

/** Start one command through zx and wrap its ProcessPromise in dr's ShellPromise. */
function start(runner: ShellRunner, o: ExecOptions, pieces: TemplateStringsArray, args: unknown[]): ShellPromise {
  checkArgs(args)
  const pp: ProcessPromise = zx({
    quote: zxQuote,
    // dr's commands are written for a plain shell: `set -euo pipefail` (zx's bash prefix) would change `a; b`.
    prefix: '',
    postfix: '',
    // dr decides what a failure is (a timeout, a dropped channel) and throws its own error.
    nothrow: true,
    // zx prints stderr unless quiet; dr prints nothing of a command unless ZX_VERBOSE asks for zx's log.
    quiet: !zx.verbose,
    // No input means an empty stdin, as with ssh's exec: a command that reads stdin must not wait forever.
    input: Buffer.from(o.input ?? ''),
    ...runner.options(o),
  })(pieces, ...args)
  let nothrow = !!o.nothrow
  let timedOut = false
  const timeoutMs = o.timeoutMs ?? runner.defaultTimeoutMs ?? 0
  const timer =
    timeoutMs > 0
      ? setTimeout(() => {
          timedOut = true
          runner.kill(pp)
        }, timeoutMs)
      : undefined
  // A plain Promise: a ProcessPromise's then() makes more ProcessPromises (its species), with read-only members.
  const settled = new Promise<ProcessOutput>((resolve) => pp.then(resolve, resolve))
  const result = settled.then((out) => {
    if (timer) clearTimeout(timer)
    return toResult(runner, o, pp, out, timedOut)
  })
  const p = result.then((r) => (r.ok || nothrow ? r : Promise.reject(new CommandError(r, o.doing)))) as ShellPromise
  p.nothrow = () => {
    nothrow = true
    return p
  }
  p.text = () => p.then((r) => r.stdout.trim())
  p.lines = () => p.then((r) => r.stdout.split(/\r?\n/).filter(Boolean))
  p.json = <T>() =>
    p.then((r) => {
      try {
        return JSON.parse(r.stdout) as T
      } catch (e) {
        throw badJson(r, e)
      }
    })
  p.quiet = (v = true) => {
    pp.quiet(v)
    return p
  }
  p.kill = () => {
    timedOut = false
    runner.kill(pp)
  }
  Object.defineProperty(p, 'pipe', { get: () => pp.pipe })
  Object.defineProperty(p, 'stdout', { get: () => pp.stdout })
  Object.defineProperty(p, 'process', { value: pp })
  return p
}

/** Build the tagged-template `$` of a transport. */
export function makeShell(runner: ShellRunner, defaults: ExecOptions = {}): RemoteShell {
  const shell = ((pieces: TemplateStringsArray, ...args: unknown[]) => start(runner, defaults, pieces, args)) as RemoteShell
  shell.with = (opts: ExecOptions) => makeShell(runner, { ...defaults, ...opts })
  return shell
}

/** Run a command string that is already shell code (Transport.exec). */
export function execWith(shell: RemoteShell, command: string, opts: ExecOptions = {}): Promise<ExecResult> {
  return shell.with(opts)(literal(command))
}
