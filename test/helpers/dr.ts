// Run the real `dr` command as a user would, and read what it printed.
import { spawn } from 'node:child_process'
import path from 'node:path'

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..')
export const DR = path.join(ROOT, 'bin/dr.js')

export interface DrRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  json<T = any>(): T
}

export interface DrOptions {
  env?: NodeJS.ProcessEnv
  timeoutMs?: number
  /** Kill dr with SIGKILL `delayMs` after its stderr first matches `pattern` (crash tests). */
  killOn?: { pattern: RegExp; delayMs: number }
}

export function dr(args: string[], opts: DrOptions = {}): Promise<DrRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [DR, ...args], { cwd: ROOT, env: { ...process.env, CI: 'true', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    let armed = false
    child.stderr.on('data', (d) => {
      stderr += d
      if (opts.killOn && !armed && opts.killOn.pattern.test(stderr)) {
        armed = true
        setTimeout(() => child.kill('SIGKILL'), opts.killOn.delayMs)
      }
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 600_000)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, json: () => JSON.parse(stdout) })
    })
  })
}
