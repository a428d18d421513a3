// `dr container run-command` and `dr container recreate`: thin wrappers over src/container.
import readline from 'node:readline/promises'
import type { Command } from 'commander'
import { DrError, ExitCode } from '../../core/error.ts'
import type * as EngineM from '../../container/engine.ts'
import type * as EngineDefaultsM from '../../container/engine-defaults.ts'
import type * as InspectM from '../../container/inspect.ts'
import type * as RecreateM from '../../container/recreate.ts'
import type * as RunCommandM from '../../container/run-command.ts'
import type * as LocalM from '../../transport/local.ts'
import type { RecreateOptions } from '../../container/recreate.ts'
import type { EngineDefaults } from '../../container/run-command.ts'

// The container modules (the Engine API client, zx) load when a container command runs, not for `dr --help`.
let Engine: typeof EngineM.Engine
let engineDefaults: typeof EngineDefaultsM.engineDefaults
let inspectContainer: typeof InspectM.inspectContainer
let inspectImage: typeof InspectM.inspectImage
let planRecreate: typeof RecreateM.planRecreate
let recreateContainer: typeof RecreateM.recreateContainer
let buildRunCommand: typeof RunCommandM.buildRunCommand
let formatRunCommand: typeof RunCommandM.formatRunCommand
let LocalTransport: typeof LocalM.LocalTransport

async function loadContainer() {
  ;({ Engine } = await import('../../container/engine.ts'))
  ;({ engineDefaults } = await import('../../container/engine-defaults.ts'))
  ;({ inspectContainer, inspectImage } = await import('../../container/inspect.ts'))
  ;({ planRecreate, recreateContainer } = await import('../../container/recreate.ts'))
  ;({ buildRunCommand, formatRunCommand } = await import('../../container/run-command.ts'))
  ;({ LocalTransport } = await import('../../transport/local.ts'))
}
import type { Transport } from '../../transport/types.ts'
import type { CliContext } from '../context.ts'
import { action } from '../run.ts'

const collect = (v: string, all: string[]) => [...all, v]

/** --local, or --host NAME from the inventory; the caller closes what it gets. */
async function transportFor(ctx: CliContext, opts: Record<string, any>): Promise<{ t: Transport; close: () => Promise<void> }> {
  if (!!opts.local === !!opts.host) {
    throw new DrError({ code: 'usage.target', message: 'say where the container is: --local, or --host HOST (a host from the inventory)', exit: 'usage' })
  }
  if (opts.local) return { t: new LocalTransport(), close: async () => {} }
  const { Connections } = await import('../../transport/connect.ts')
  const conns = new Connections(await ctx.inventory(), { out: ctx.out })
  try {
    return { t: await conns.get(opts.host), close: () => conns.close() }
  } catch (e) {
    await conns.close()
    throw e
  }
}

/** The engine's defaults, so the printed command does not pin them; without the API, everything is pinned. */
async function defaultsOf(ctx: CliContext, t: Transport): Promise<EngineDefaults | undefined> {
  try {
    const engine = await Engine.open(t)
    try {
      return await engineDefaults(engine, t)
    } finally {
      await engine.close()
    }
  } catch (e) {
    ctx.out.warn(`could not read the docker engine's defaults on ${t.host} (${(e as Error).message}); the command pins them`)
    return undefined
  }
}

function parseSetArgs(values: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const v of values) {
    const eq = v.indexOf('=')
    if (eq <= 0) throw new DrError({ code: 'usage.set-arg', message: `--set-arg ${JSON.stringify(v)} is not FLAG=VALUE`, hint: 'e.g. --set-arg initial-cluster=etcd-m3=https://10.0.0.3:2380', exit: 'usage' })
    out[v.slice(0, eq)] = v.slice(eq + 1)
  }
  return out
}

function parseRestart(v: string | undefined): RecreateOptions['restartPolicy'] {
  if (!v) return undefined
  const m = /^(no|always|unless-stopped|on-failure)(?::(\d+))?$/.exec(v)
  if (!m || (m[2] && m[1] !== 'on-failure')) throw new DrError({ code: 'usage.restart', message: `--restart ${v} is not a restart policy`, hint: 'no, always, unless-stopped, on-failure[:N]', exit: 'usage' })
  return { Name: m[1], MaximumRetryCount: m[2] ? Number(m[2]) : 0 }
}

async function confirm(ctx: CliContext, question: string): Promise<void> {
  if (ctx.opts.yes) return
  if (!process.stdin.isTTY || process.env.CI === 'true') {
    throw new DrError({ code: 'confirm.required', message: 'this changes a running container and there is no terminal to confirm on', hint: 'look at the plan with --plan, then pass --yes', exit: 'refused' })
  }
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr })
  try {
    const answer = await rl.question(`${question} Type "yes" to go on: `)
    if (answer.trim() !== 'yes') throw new DrError({ code: 'confirm.declined', message: 'not confirmed; nothing was changed', exit: 'refused' })
  } finally {
    rl.close()
  }
}

export function registerContainer(program: Command) {
  const container = program.command('container').description('print the exact `docker run` of a container; re-create it with edited flags').hook('preAction', loadContainer)

  container
    .command('run-command')
    .description('print one `docker run` command that creates a container identical to NAME (--json: the argv)')
    .argument('<name>', 'the container')
    .option('--as <new>', 'name of the new container (default: the same name)')
    .option('--local', 'the container is on this machine')
    .option('--host <host>', 'the container is on this inventory host')
    .action(
      action(async (ctx, [name], opts) => {
        const { t, close } = await transportFor(ctx, opts)
        try {
          const c = await inspectContainer(t, name)
          const image = await inspectImage(t, c.Image).catch((e) => {
            ctx.out.warn(`${(e as Error).message}: inherited settings are printed as well`)
            return null
          })
          const run = buildRunCommand(c, image, { name: opts.as, engine: await defaultsOf(ctx, t) })
          if (ctx.opts.json) ctx.out.data({ host: t.host, container: name, argv: run.argv, inexact: run.inexact })
          else {
            ctx.out.line(formatRunCommand(run.argv))
            for (const n of run.inexact) ctx.out.warn(n)
          }
          return ExitCode.ok
        } finally {
          await close()
        }
      }),
    )

  container
    .command('recreate')
    .description('re-create NAME with edited flags: the old one is kept stopped as NAME-old-<time>, restored if the new one fails')
    .argument('<name>', 'the container')
    .option('--local', 'the container is on this machine')
    .option('--host <host>', 'the container is on this inventory host')
    .option('--set-arg <flag=value>', 'set a flag of the process, e.g. initial-cluster=etcd-m3=https://10.0.0.3:2380 (repeatable)', collect, [])
    .option('--remove-arg <flag>', 'remove a flag of the process, e.g. force-new-cluster (repeatable)', collect, [])
    .option('--add-arg <word>', 'append a word to the process arguments when missing, e.g. --add-arg=--force-new-cluster (repeatable)', collect, [])
    .option('--restart <policy>', 'restart policy of the new container (default: the old one\'s)')
    .option('--keep-running <ms>', 'how long the new container must stay up', '5000')
    .action(
      action(async (ctx, [name], opts) => {
        const { t, close } = await transportFor(ctx, opts)
        try {
          const edit: RecreateOptions = {
            setArgs: parseSetArgs(opts.setArg),
            removeArgs: opts.removeArg,
            addArgs: opts.addArg,
            restartPolicy: parseRestart(opts.restart),
            keepRunningCheckMs: Number(opts.keepRunning),
          }
          const c = await inspectContainer(t, name)
          const plan = planRecreate(c, await inspectImage(t, c.Image), { ...edit, name, engine: await defaultsOf(ctx, t) })
          if (ctx.opts.json && ctx.opts.plan) ctx.out.data({ host: t.host, container: name, ...plan })
          if (!ctx.opts.json) {
            ctx.out.line(`Re-create ${name} on ${t.host}; the old one is kept, stopped, as ${name}-old-<time>.`)
            ctx.out.line(plan.changes.length ? plan.changes.map((ch) => `  - ${ch}`).join('\n') : '  (no changes: an exact copy)')
            ctx.out.line('\nThe new container, as a docker run command (recreate itself uses the Engine API with the exact arrays):')
            ctx.out.line(formatRunCommand(plan.argv))
            for (const n of plan.inexact) ctx.out.warn(n)
          }
          if (ctx.opts.plan) return ExitCode.ok
          await confirm(ctx, `\nRe-create ${name} on ${t.host}?`)
          const res = await recreateContainer(t, name, edit)
          if (ctx.opts.json) ctx.out.data({ host: t.host, container: name, ...res })
          else ctx.out.line(`\nre-created ${name} (${res.newId.slice(0, 12)}); the old one is ${res.oldName}`)
          return ExitCode.ok
        } finally {
          await close()
        }
      }),
    )
}
