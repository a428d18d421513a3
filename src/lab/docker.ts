// The host's docker engine, driven with argv arrays (never a shell string): the lab's one way to change things.
import { spawn } from 'node:child_process'
import { DrError, relevantLines } from '../core/error.ts'
import { runLocal } from '../transport/local.ts'
import type { ExecResult } from '../transport/types.ts'

export interface DockerOptions {
  input?: string | Buffer
  timeoutMs?: number
  nothrow?: boolean
  doing?: string
}

/** Run `docker …args`; throws a DrError with the relevant stderr unless nothrow. */
export async function docker(args: string[], o: DockerOptions = {}): Promise<ExecResult> {
  const r = await runLocal(['docker', ...args], { input: o.input, timeoutMs: o.timeoutMs ?? 300_000, host: 'docker' })
  if (!r.ok && !o.nothrow) throw dockerError(r, o.doing)
  return r
}

export async function dockerText(args: string[], o: DockerOptions = {}): Promise<string> {
  return (await docker(args, o)).stdout.trim()
}

/** `docker exec [-i] CONTAINER argv…` */
export function dockerExec(container: string, argv: string[], o: DockerOptions = {}): Promise<ExecResult> {
  return docker(['exec', ...(o.input !== undefined ? ['-i'] : []), container, ...argv], o)
}

export function dockerError(r: ExecResult, doing?: string): DrError {
  const stderr = r.stderr || r.stdout
  const noEngine = /Cannot connect to the Docker daemon|Is the docker daemon running|docker.sock: connect/i.test(stderr)
  return new DrError({
    code: noEngine ? 'lab.docker-down' : 'lab.docker-failed',
    message: noEngine ? 'the docker engine is not running' : `docker ${r.signal === 'TIMEOUT' ? 'timed out' : `exited with status ${r.exitCode}`}`,
    hint: noEngine ? 'run scripts/test (it starts dockerd) or start dockerd yourself' : undefined,
    host: 'docker',
    doing,
    command: r.command,
    exitStatus: r.exitCode,
    stderr: relevantLines(stderr),
  })
}

/** Fail early, with a hint, when no engine answers. */
export async function requireEngine(): Promise<string> {
  const r = await docker(['version', '--format', '{{.Server.Version}}'], { nothrow: true, timeoutMs: 15_000 })
  if (!r.ok) throw dockerError(r, 'ask the docker engine for its version')
  return r.stdout.trim()
}

/**
 * `docker A | docker B` without a shell and without holding the stream in memory (images are ~100 MB).
 */
export function dockerPipe(from: string[], to: string[], doing: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const a = spawn('docker', from, { stdio: ['ignore', 'pipe', 'pipe'] })
    const b = spawn('docker', to, { stdio: ['pipe', 'pipe', 'pipe'] })
    let errA = ''
    let errB = ''
    a.stderr.on('data', (d: Buffer) => (errA += d))
    b.stderr.on('data', (d: Buffer) => (errB += d))
    b.stdout.resume()
    b.stdin.on('error', () => {})
    a.stdout.pipe(b.stdin)
    let left = 2
    let codeA: number | null = 0
    let codeB: number | null = 0
    const done = () => {
      if (--left > 0) return
      if (codeA === 0 && codeB === 0) return resolve()
      reject(
        new DrError({
          code: 'lab.docker-failed',
          message: `docker ${from[0]} | docker ${to.join(' ')} failed (${codeA}, ${codeB})`,
          host: 'docker',
          doing,
          stderr: relevantLines(errA + errB),
        }),
      )
    }
    a.on('error', (e) => ((errA += String(e)), (codeA = 127)))
    b.on('error', (e) => ((errB += String(e)), (codeB = 127)))
    a.on('close', (c) => ((codeA = c), done()))
    b.on('close', (c) => ((codeB = c), done()))
  })
}
