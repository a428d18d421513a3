// One error type for every expected failure: a stable code, where it happened, what was being done,
// the relevant stderr lines, and the next thing the operator can do. Anything else is a bug.

export const ExitCode = {
  ok: 0,
  failed: 1, // an operation failed: a command, a host, a store
  usage: 2, // bad input: arguments, inventory, a command not built yet
  refused: 3, // refused for safety: quorum still exists, not confirmed, lock held
  unverified: 4, // applied, but verification did not hold
  problems: 5, // a check or diagnosis found problems
  bug: 70,
} as const
export type ExitCodeName = keyof typeof ExitCode

export interface DrErrorInit {
  code: string // stable, dotted: 'ssh.hostkey-changed', 'inventory.invalid', 'failover.quorum-present'
  message: string
  hint?: string
  host?: string
  doing?: string
  command?: string
  exitStatus?: number | null
  stderr?: string
  /** One finding per line (a host and why it failed), every one shown: unlike stderr, nothing is picked out. */
  evidence?: string[]
  exit?: ExitCodeName
  details?: unknown
  cause?: unknown
}

export class DrError extends Error {
  readonly code: string
  readonly hint?: string
  readonly host?: string
  readonly doing?: string
  readonly command?: string
  readonly exitStatus?: number | null
  readonly stderr?: string
  readonly evidence?: string[]
  readonly exit: ExitCodeName
  readonly details?: unknown

  constructor(init: DrErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause })
    this.name = 'DrError'
    this.code = init.code
    this.hint = init.hint
    this.host = init.host
    this.doing = init.doing
    this.command = init.command
    this.exitStatus = init.exitStatus
    this.stderr = init.stderr
    this.evidence = init.evidence
    this.exit = init.exit ?? 'failed'
    this.details = init.details
  }

  toJSON() {
    return {
      code: this.code,
      message: this.message,
      hint: this.hint,
      host: this.host,
      doing: this.doing,
      command: this.command,
      exitStatus: this.exitStatus,
      stderr: this.stderr,
      evidence: this.evidence,
      details: this.details,
    }
  }
}

export const isDrError = (e: unknown): e is DrError => e instanceof DrError

/** The lines of stderr worth showing: those that mention a failure, at most 20 (zx does the same). */
export function relevantLines(stderr: string, max = 20): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '')
  const loud = lines.filter((l) => /fail|error|exception|denied|refused|cannot|unable|fatal|panic|no such/i.test(l))
  const picked = loud.length > 0 ? loud : lines.slice(-5)
  return picked.slice(0, max).join('\n')
}

/** Human rendering: what failed, where, the evidence, and what to do next. */
export function formatError(e: unknown): string {
  if (!isDrError(e)) {
    const err = e instanceof Error ? e : new Error(String(e))
    return `error: internal error (this is a bug in dr, please report it): ${err.message}\n${err.stack ?? ''}`
  }
  const out = [`error[${e.code}]: ${e.message}`]
  if (e.host) out.push(`  host:    ${e.host}`)
  if (e.doing) out.push(`  while:   ${e.doing}`)
  if (e.command) out.push(`  command: ${e.command}`)
  if (e.exitStatus !== undefined && e.exitStatus !== null) out.push(`  exit:    ${e.exitStatus}`)
  if (e.stderr) out.push(...relevantLines(e.stderr).split('\n').map((l) => `  | ${l}`))
  for (const line of e.evidence ?? []) out.push(`  | ${line}`)
  if (e.hint) out.push(`  next:    ${e.hint}`)
  return out.join('\n')
}

export function exitCodeOf(e: unknown): number {
  return isDrError(e) ? ExitCode[e.exit] : ExitCode.bug
}
