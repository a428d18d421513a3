// dr itself as a child process: a drill recovers with exactly the commands an operator runs.
import { spawn } from 'node:child_process'
import path from 'node:path'
import { projectRoot } from '../core/paths.ts'
import type { Output } from '../core/output.ts'
import { quote } from '../transport/shell.ts'

export const DR_BIN = path.join(projectRoot, 'bin/dr.js')

/** `bin/dr.js ARGS` as a child process; stderr (its progress) is passed on, indented. */
export function runDr(args: string[], out: Output, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DR_BIN, ...args], { cwd: projectRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let partial = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => {
      stderr += d
      const lines = (partial + d).split('\n')
      partial = lines.pop() ?? ''
      for (const l of lines) if (l.trim()) out.progress(`    │ ${l}`)
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

export const drCommand = (args: string[]) => ['dr', ...args].map(quote).join(' ')

