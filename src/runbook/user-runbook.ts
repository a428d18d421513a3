// An operator's runbook file (`dr run FILE`) turned into a Runbook for dr's own engine, so it gets the plan,
// the confirmation, the journal, the lock and resume exactly as `dr failover` does. The module shape:
//
//   export const title = 'Renew the etcd certificate of one member'      // optional (default: the file name)
//   export async function assess(ctx) { … return facts }                 // optional, read-only; may refuse
//   export function describe(ctx) { return ['lines that explain the plan'] } // optional
//   export default function steps(ctx) { return [ { id, title, host, destructive, check, apply, verify } ] }
//   export async function verify(ctx) { return ['evidence lines'] }     // optional: the end state, after the steps
//
// `steps` may also be a named export, an array, or async. A step's `check(ctx)` reads the world and returns what
// would change: nothing (undefined, null, false, []), a string, a Change, or a list of them. `apply(ctx, changes)`
// changes it; `verify(ctx)` reads it again and returns evidence (a string), or throws; returning false fails it.
// A step without `apply` is a probe: whatever its check returns is a problem, and the run stops with exit 5.
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { DrError } from '../core/error.ts'
import type { Change, Runbook, Step } from './types.ts'
import type { RunContext } from './run-context.ts'

type Awaitable<T> = T | Promise<T>
export type CheckResult = undefined | null | false | string | Change | Array<string | Change>

export interface UserStep {
  id: string
  title: string
  host?: string
  destructive?: boolean
  check(ctx: RunContext): Awaitable<CheckResult>
  apply?(ctx: RunContext, changes: Change[]): Awaitable<void>
  verify?(ctx: RunContext): Awaitable<string | boolean | void>
}

type StepsExport = UserStep[] | ((ctx: RunContext) => Awaitable<UserStep[]>)

export interface UserRunbookModule {
  title?: string
  assess?(ctx: RunContext): Awaitable<unknown>
  describe?(ctx: RunContext): string[]
  /** The whole runbook's end state, checked after the steps (and on a run with nothing to do); throws when it does not hold. */
  verify?(ctx: RunContext): Awaitable<string | string[] | void>
  steps?: StepsExport
  default?: StepsExport
}

export interface LoadedRunbook {
  file: string
  name: string
  title: string
  module: UserRunbookModule
}

const EXTENSIONS = ['.mjs', '.js', '.ts', '.mts']
const usage = (code: string, message: string, hint: string) => new DrError({ code, message, hint, exit: 'usage' })
const SHAPE_HINT = 'export the steps: `export default function steps(ctx) { return [{ id, title, check, apply, verify }] }` (see "Writing your own runbook" in README.md)'

/** `run-<file name>`: the journal's and the lock's name. */
export const runbookName = (file: string) => `run-${path.basename(file).replace(/\.[^.]+$/, '').replace(/[^A-Za-z0-9_.-]+/g, '-')}`

export async function loadUserRunbook(file: string): Promise<LoadedRunbook> {
  const abs = path.resolve(file)
  if (!fs.existsSync(abs)) throw usage('run.no-file', `runbook ${file} does not exist`, `give the path of a .mjs or .ts file, e.g. dr run runbooks/examples/preflight.mjs --plan`)
  if (!fs.statSync(abs).isFile()) throw usage('run.no-file', `runbook ${file} is not a file`, 'give the path of a .mjs or .ts file')
  if (!EXTENSIONS.includes(path.extname(abs))) throw usage('run.bad-file', `runbook ${file} is not a JavaScript or TypeScript module`, `name it with one of ${EXTENSIONS.join(', ')}`)
  let module: UserRunbookModule
  try {
    module = (await import(pathToFileURL(abs).href)) as UserRunbookModule
  } catch (e) {
    throw new DrError({ code: 'run.load-failed', message: `runbook ${file} could not be loaded: ${(e as Error)?.message ?? String(e)}`, hint: 'fix the error in the file (it is imported as an ES module)', exit: 'usage', cause: e })
  }
  const steps = module.default ?? module.steps
  if (typeof steps !== 'function' && !Array.isArray(steps)) throw usage('run.no-steps', `runbook ${file} does not export steps`, SHAPE_HINT)
  return { file: abs, name: runbookName(abs), title: typeof module.title === 'string' ? module.title : path.basename(abs), module }
}

function validate(steps: unknown, file: string): UserStep[] {
  const problems: string[] = []
  if (!Array.isArray(steps)) throw usage('run.no-steps', `the steps of ${file} are not an array (got ${typeof steps})`, SHAPE_HINT)
  const seen = new Set<string>()
  steps.forEach((s: any, i) => {
    const where = `step ${i + 1}${typeof s?.id === 'string' ? ` (${s.id})` : ''}`
    if (!s || typeof s !== 'object') return void problems.push(`${where}: not an object`)
    if (typeof s.id !== 'string' || !s.id) problems.push(`${where}: no id (a short stable name: 'upload-cert')`)
    else if (seen.has(s.id)) problems.push(`${where}: the id is used twice`)
    else seen.add(s.id)
    if (typeof s.title !== 'string' || !s.title) problems.push(`${where}: no title (imperative: 'Upload the new certificate to master3')`)
    if (typeof s.check !== 'function') problems.push(`${where}: no check(ctx) function`)
    for (const f of ['apply', 'verify'] as const) if (s[f] !== undefined && typeof s[f] !== 'function') problems.push(`${where}: ${f} is not a function`)
  })
  if (problems.length) throw usage('run.bad-steps', `runbook ${file} has ${problems.length} problem(s) in its steps:\n  ${problems.join('\n  ')}`, SHAPE_HINT)
  return steps as UserStep[]
}

export function toChanges(r: CheckResult, host?: string): Change[] {
  if (r === undefined || r === null || r === false) return []
  const list = Array.isArray(r) ? r : [r]
  return list.map((c) => (typeof c === 'string' ? { summary: c, host } : { host, ...c }))
}

function adapt(s: UserStep, ctx: RunContext, file: string): Step<UserFacts> {
  return {
    id: s.id,
    title: s.title,
    host: s.host,
    destructive: !!s.destructive,
    async check() {
      const changes = toChanges(await s.check(ctx), s.host)
      if (!s.apply && changes.length) {
        // A probe: what it found are problems, and nothing can fix them here.
        throw new DrError({
          code: 'run.check-failed',
          message: `${s.title}: ${changes.map((c) => c.summary).join('; ')}`,
          host: s.host,
          doing: `${path.basename(file)}, step ${s.id}`,
          hint: 'fix what it found, then run it again',
          exit: 'problems',
        })
      }
      return changes.map((c) => ({ ...c, destructive: c.destructive ?? s.destructive }))
    },
    async apply(_e, changes) {
      await s.apply!(ctx, changes)
    },
    async verify() {
      const v = s.verify ? await s.verify(ctx) : undefined
      if (v === false) throw new DrError({ code: 'step.unverified', message: `${s.title}: verification did not hold`, host: s.host, exit: 'unverified', hint: `run it again to resume (${path.basename(file)}, step ${s.id})` })
      return typeof v === 'string' ? v : undefined
    },
  }
}

export interface UserFacts {
  steps: Step<UserFacts>[]
  description: string[]
}

/** The loaded module as a Runbook for the engine; `ctx` is what every hook of the module receives. */
export function userRunbook(rb: LoadedRunbook, ctx: RunContext): Runbook<UserFacts> {
  return {
    name: rb.name,
    title: rb.title,
    async assess(base) {
      ctx.useConnections(base.conns)
      ctx.facts = rb.module.assess ? await rb.module.assess(ctx) : undefined
      const exported = rb.module.default ?? rb.module.steps!
      const steps = validate(typeof exported === 'function' ? await exported(ctx) : exported, rb.file)
      const description = [`from ${rb.file}${ctx.argv.length ? ` with ${ctx.argv.join(' ')}` : ''}`, ...(rb.module.describe?.(ctx) ?? [])]
      return { steps: steps.map((s) => adapt(s, ctx, rb.file)), description }
    },
    describe: (f) => f.description,
    steps: (f) => f.steps,
    finalVerify: rb.module.verify
      ? async () => {
          const v = await rb.module.verify!(ctx)
          return v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]
        }
      : undefined,
  }
}
