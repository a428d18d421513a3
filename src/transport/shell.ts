// The zx-style `$` every transport shares: interpolated values are quoted, never pasted as shell code.
import { DrError, relevantLines } from '../core/error.ts'
import type { ExecOptions, ExecResult, RemoteShell, ShellPromise } from './types.ts'

const SAFE = /^[A-Za-z0-9_\/.,:=@%+-]+$/

/**
 * Quote one word for any POSIX shell (sh, dash, bash). Single quotes keep everything literal — `$`, backticks,
 * newlines, `;` — and a single quote inside is closed, escaped and reopened.
 */
export function quote(word: string): string {
  if (word !== '' && SAFE.test(word)) return word
  return `'${word.replace(/'/g, `'\\''`)}'`
}

/** Quote an argv array into one command line. */
export const quoteArgv = (argv: readonly string[]): string => argv.map(quote).join(' ')

function substitute(arg: unknown): string {
  if (Array.isArray(arg)) return arg.map((a) => substitute(a)).join(' ')
  if (arg && typeof arg === 'object' && 'raw' in arg && typeof (arg as { raw: unknown }).raw === 'string') {
    return (arg as { raw: string }).raw // an explicit escape hatch: raw(...) for trusted fragments
  }
  if (arg === undefined || arg === null) throw new TypeError('a value interpolated into a command is undefined')
  return quote(String(arg))
}

/** Mark a fragment as already-quoted shell (for trusted, constant text only). */
export const raw = (s: string) => ({ raw: s })

export function buildCommand(pieces: TemplateStringsArray, args: unknown[]): string {
  let out = pieces[0]
  args.forEach((a, i) => {
    out += substitute(a) + pieces[i + 1]
  })
  return out
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

type Exec = (command: string, opts: ExecOptions) => Promise<ExecResult>

/** Build the tagged-template `$` over a transport's exec. */
export function makeShell(exec: Exec, defaults: ExecOptions = {}): RemoteShell {
  const shell = ((pieces: TemplateStringsArray, ...args: unknown[]): ShellPromise => {
    const command = buildCommand(pieces, args)
    let nothrow = !!defaults.nothrow
    // Start on the next tick so .nothrow() can be called before the command runs.
    const p = new Promise<ExecResult>((resolve, reject) => {
      queueMicrotask(() => {
        exec(command, { ...defaults, nothrow: true }).then((r) => {
          if (r.ok || nothrow) resolve(r)
          else reject(new CommandError(r, defaults.doing))
        }, reject)
      })
    }) as ShellPromise
    p.nothrow = () => {
      nothrow = true
      return p
    }
    p.text = () => p.then((r) => r.stdout.trim())
    p.json = <T>() =>
      p.then((r) => {
        try {
          return JSON.parse(r.stdout) as T
        } catch (e) {
          throw new DrError({
            code: 'command.bad-json',
            message: `command on ${r.host} did not print JSON`,
            host: r.host,
            command: r.command,
            stderr: r.stdout.slice(0, 500),
            cause: e,
          })
        }
      })
    return p
  }) as RemoteShell
  shell.with = (opts: ExecOptions) => makeShell(exec, { ...defaults, ...opts })
  return shell
}

/** Turn a result into a thrown CommandError when it failed and the caller did not ask for nothrow. */
export function settle(result: ExecResult, opts: ExecOptions | undefined): ExecResult {
  if (!result.ok && !opts?.nothrow) throw new CommandError(result, opts?.doing)
  return result
}
