// Wraps a command's action: build the context from the global options, run, render errors, set the exit code.
import type { Command } from 'commander'
import { DrError, exitCodeOf, formatError, isDrError } from '../core/error.ts'
import { CliContext, type GlobalOptions } from './context.ts'

export function globalOptions(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals() as Record<string, unknown>
  return {
    inventory: o.inventory as string | undefined,
    json: !!o.json,
    yes: !!o.yes,
    plan: !!o.plan,
    verbose: !!o.verbose,
  }
}

type Action = (ctx: CliContext, args: string[], opts: Record<string, any>) => Promise<number | void>

/**
 * What each command does with --plan ("nothing changes, everywhere"): it honours it (shows what it would do and
 * changes nothing), it changes nothing anyway (read-only), or it refuses --plan with a usage error. A command
 * missing from this table refuses --plan, and test/unit/cli-plan.test.ts fails until it is declared here.
 */
export type PlanPolicy = 'honours' | 'read-only' | { refuse: string }
export const PLAN_POLICY: Record<string, PlanPolicy> = {
  'lab up': { refuse: 'it builds and starts the lab; `dr lab status` shows what is up' },
  'lab status': 'read-only',
  'lab down': 'honours',
  'lab stop-site': { refuse: 'it powers a site off at once' },
  'lab start-site': { refuse: 'it powers a site on at once' },
  'lab partition': { refuse: 'it cuts the traffic at once' },
  'lab heal': { refuse: 'it restores the traffic at once' },
  'lab power': { refuse: 'it switches a node at once; `dr lab power status NODE` changes nothing' },
  'lab ssh': { refuse: 'it runs a command on a node' },
  'lab break': { refuse: 'it breaks the lab at once; `dr doctor` then shows what it did' },
  status: 'read-only',
  check: 'read-only',
  'inventory check': 'read-only',
  'inventory show': 'read-only',
  'inventory import-rke': 'honours',
  'container run-command': 'read-only',
  'container recreate': 'honours',
  'backup now': 'honours',
  'backup list': 'read-only',
  'backup verify': 'read-only',
  'backup prune': 'honours',
  'backup restore': 'honours',
  'backup schedule': 'honours',
  'backup daemon': { refuse: 'it runs backups until stopped; `dr backup now --plan` shows what one run would do' },
  failover: 'honours',
  fence: 'honours',
  run: 'honours',
  'member add': 'honours',
  'member remove': 'honours',
  'member replace': 'honours',
  // Without --fix doctor only reads; with --fix, --plan shows the fix runbook's plan.
  doctor: 'honours',
  // It reads the cluster and writes the bundle on this machine only.
  diagnose: 'read-only',
  failback: 'honours',
  drill: 'honours',
}

/** `backup now` for the `now` command under `backup`. */
export function commandPath(cmd: Command): string {
  const names: string[] = []
  for (let c: Command | null = cmd; c && c.parent; c = c.parent) names.unshift(c.name())
  return names.join(' ')
}

function refusePlan(cmd: Command) {
  const name = commandPath(cmd)
  const p = PLAN_POLICY[name]
  if (p === 'honours' || p === 'read-only') return
  throw new DrError({
    code: 'usage.plan-unsupported',
    message: `\`dr ${name}\` cannot show a plan: ${p ? p.refuse : 'it does not say what --plan would do'}`,
    hint: `run it without --plan${p ? '' : ' (and declare the command in PLAN_POLICY, src/cli/run.ts)'}`,
    exit: 'usage',
  })
}

/** Numeric options, wherever a command has them: a non-number, a negative or zero value is a usage error. */
const NUMERIC_OPTIONS: Record<string, { unit: string; integer?: boolean; min: number; max?: number }> = {
  timeout: { unit: 'milliseconds', min: 1 },
  keepRunning: { unit: 'milliseconds', min: 1 },
  retries: { unit: 'attempts', integer: true, min: 1 },
  workers: { unit: 'workers per site', integer: true, min: 0, max: 5 },
  days: { unit: 'days', integer: true, min: 1 },
  concurrency: { unit: 'hosts at once', integer: true, min: 1 },
}

export function checkNumber(flag: string, raw: unknown, rule: { unit: string; integer?: boolean; min: number; max?: number }): number {
  const text = String(raw).trim()
  const n = text === '' ? NaN : Number(text)
  const ok = Number.isFinite(n) && (!rule.integer || Number.isInteger(n)) && n >= rule.min && (rule.max === undefined || n <= rule.max)
  if (!ok) {
    const range = rule.max !== undefined ? `from ${rule.min} to ${rule.max}` : rule.min > 0 ? 'greater than 0' : `of at least ${rule.min}`
    throw new DrError({ code: 'usage.bad-number', message: `${flag} ${JSON.stringify(String(raw))}: expected ${rule.integer ? 'a whole number' : 'a number'} ${range} (${rule.unit})`, hint: `e.g. ${flag} ${Math.max(rule.min, 1) * (rule.unit === 'milliseconds' ? 3000 : 1)}`, exit: 'usage' })
  }
  return n
}

function validateNumbers(cmd: Command, opts: Record<string, unknown>) {
  for (const o of cmd.options) {
    const key = o.attributeName()
    const rule = NUMERIC_OPTIONS[key]
    if (rule && opts[key] !== undefined && o.long) checkNumber(o.long, opts[key], rule)
  }
}

/** commander action: (…positional, opts, command). Our actions get (ctx, positional, opts). */
export function action(fn: Action) {
  return async (...params: unknown[]) => {
    const cmd = params[params.length - 1] as Command
    const opts = params[params.length - 2] as Record<string, unknown>
    const args = params.slice(0, -2).flat() as string[]
    const ctx = new CliContext(globalOptions(cmd))
    try {
      if (ctx.opts.plan || opts.plan) refusePlan(cmd)
      validateNumbers(cmd, opts)
      const code = await fn(ctx, args, opts)
      process.exitCode = typeof code === 'number' ? code : 0
    } catch (e) {
      if (ctx.opts.json) process.stdout.write(JSON.stringify({ error: isDrError(e) ? e.toJSON() : { code: 'bug', message: String(e) } }, null, 2) + '\n')
      process.stderr.write(formatError(e) + '\n')
      process.exitCode = exitCodeOf(e)
    }
  }
}
