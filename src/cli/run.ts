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

/** commander action: (…positional, opts, command). Our actions get (ctx, positional, opts). */
export function action(fn: Action) {
  return async (...params: unknown[]) => {
    const cmd = params[params.length - 1] as Command
    const opts = params[params.length - 2] as Record<string, unknown>
    const args = params.slice(0, -2).flat() as string[]
    const ctx = new CliContext(globalOptions(cmd))
    try {
      const code = await fn(ctx, args, opts)
      process.exitCode = typeof code === 'number' ? code : 0
    } catch (e) {
      if (ctx.opts.json) process.stdout.write(JSON.stringify({ error: isDrError(e) ? e.toJSON() : { code: 'bug', message: String(e) } }, null, 2) + '\n')
      process.stderr.write(formatError(e) + '\n')
      process.exitCode = exitCodeOf(e)
    }
  }
}

export function notBuilt(what: string, issue?: string): never {
  throw new DrError({
    code: 'not-built',
    message: `\`dr ${what}\` is not built yet`,
    hint: issue ? `it is planned (${issue}); see "Not supported yet" in README.md` : 'see "Not supported yet" in README.md',
    exit: 'usage',
  })
}
