// Read an inventory: YAML with positions → zod shape → rules → normalised Inventory.
// Every problem is collected first and reported at once, each with file:line:column, field path and a hint.
import fsp from 'node:fs/promises'
import path from 'node:path'
import type { z } from 'zod'
import { DrError } from '../core/error.ts'
import { readYaml } from './yaml-source.ts'
import { InventorySchema, knownKeysAt, STORE_FIELDS, type RawInventory } from './schema.ts'
import { runRules } from './rules.ts'
import { normalise } from './normalise.ts'
import { didYouMean, error, formatProblem, type Path, type Problem } from './problems.ts'
import type { Inventory } from './types.ts'

export interface InventoryReport {
  file: string
  /** Present when there are no errors. */
  inventory?: Inventory
  /** The parsed YAML shape (best effort, also when there are errors). */
  raw?: RawInventory
  errors: Problem[]
  warnings: Problem[]
}

const TYPE_HINTS: Record<string, string> = {
  array: 'write a list: [a, b] or one "- item" per line',
  number: 'write the number without quotes',
  boolean: 'write true or false',
  string: 'quote the value if it looks like a number or a boolean',
  record: 'write a mapping (key: value)',
  object: 'write a mapping (key: value)',
}

/** The keys allowed at path; a store's depend on its type. */
function allowedKeys(p: Path, data: any): string[] {
  if (p.length === 3 && p[0] === 'backup' && p[1] === 'stores') {
    const spec = STORE_FIELDS[data?.backup?.stores?.[p[2]]?.type as keyof typeof STORE_FIELDS]
    if (spec) return ['type', ...spec.allowed]
  }
  return knownKeysAt(p)
}

function zodProblems(issues: z.core.$ZodIssue[], data: unknown): Problem[] {
  const out: Problem[] = []
  for (const i of issues) {
    const p = i.path as Path
    if (i.code === 'unrecognized_keys') {
      const known = allowedKeys(p, data)
      for (const k of i.keys)
        out.push(error([...p, k], `unknown key "${k}"`, didYouMean(k, known, known.length ? `allowed here: ${known.join(', ')}` : undefined), 'key'))
    } else if (i.code === 'invalid_value') {
      const allowed = i.values.map(String)
      out.push(error(p, i.message.replace(/^Invalid option: /, 'invalid value: '), `use one of ${allowed.join(', ')}`))
    } else {
      const m = /^Invalid input: expected (\w+), received (\w+)$/.exec(i.message)
      const a = (w: string) => (/^[aeiou]/.test(w) ? `an ${w}` : `a ${w}`)
      if (m) out.push(error(p, `expected ${a(m[1])}, got ${a(m[2])}`, TYPE_HINTS[m[1]]))
      else out.push(error(p, i.message.replace(/^Invalid input: /, '')))
    }
  }
  return out
}

/** Remove the values zod rejected so the rules can still look at everything else. */
function salvage(data: unknown): RawInventory {
  let cur: unknown = structuredClone(data ?? {})
  for (let round = 0; round < 8; round++) {
    const r = InventorySchema.safeParse(cur)
    if (r.success) return r.data
    for (const i of r.error.issues) {
      const keys = i.code === 'unrecognized_keys' ? i.keys.map((k) => [...i.path, k]) : [i.path]
      for (const k of keys) cur = dropAt(cur, k as Path)
    }
  }
  return {}
}

function dropAt(root: unknown, p: Path): unknown {
  if (p.length === 0) return {}
  let parent: any = root
  for (const seg of p.slice(0, -1)) {
    if (parent == null || typeof parent !== 'object') return root
    parent = parent[seg]
  }
  if (parent == null || typeof parent !== 'object') return root
  const last = p[p.length - 1]
  if (Array.isArray(parent) && typeof last === 'number') parent[last] = undefined
  else delete parent[last]
  // Arrays with holes would fail again; compact them (a later index in the same list may shift, which is fine).
  if (Array.isArray(parent)) {
    const kept = parent.filter((x) => x !== undefined)
    parent.length = 0
    parent.push(...kept)
  }
  return root
}

/** Check an inventory's text. Pure apart from nothing: `file` is only used for messages and relative paths. */
export function checkInventoryText(text: string, file: string): InventoryReport {
  const src = readYaml(text)
  const problems: Problem[] = [...src.syntax]
  let raw: RawInventory | undefined
  if (!src.syntax.some((p) => p.severity === 'error')) {
    const data = src.data
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      problems.push(error([], 'the inventory must be a YAML mapping (cluster:, flavor:, sites:, hosts: …)', 'see inventories/examples/'))
    } else {
      const parsed = InventorySchema.safeParse(data)
      if (!parsed.success) problems.push(...zodProblems(parsed.error.issues, data))
      raw = parsed.success ? parsed.data : salvage(data)
      problems.push(...runRules(raw))
    }
  }
  for (const p of problems) if (p.line === undefined) Object.assign(p, src.locate(p.path, p.at))
  const byPos = (a: Problem, b: Problem) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0)
  const errors = problems.filter((p) => p.severity === 'error').sort(byPos)
  const warnings = problems.filter((p) => p.severity === 'warning').sort(byPos)
  const inventory = errors.length === 0 && raw ? normalise(raw, file) : undefined
  return { file, inventory, raw, errors, warnings }
}

export async function readInventoryFile(file: string): Promise<InventoryReport> {
  const abs = path.resolve(file)
  let text: string
  try {
    text = await fsp.readFile(abs, 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw new DrError({
      code: 'inventory.unreadable',
      message: `cannot read the inventory ${abs}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
      hint: 'pass -i FILE with an existing inventory (see inventories/examples/), or set $DR_INVENTORY',
      exit: 'usage',
      cause: e,
    })
  }
  return checkInventoryText(text, abs)
}

/** The error thrown for an invalid inventory: every problem in the message, in file order. */
export function invalidInventoryError(report: InventoryReport): DrError {
  const rel = path.relative(process.cwd(), report.file) || report.file
  const shown = rel.startsWith('..') ? report.file : rel
  const n = report.errors.length
  const lines = [...report.errors, ...report.warnings].map((p) => '  ' + formatProblem(shown, p))
  return new DrError({
    code: 'inventory.invalid',
    message: `${shown} has ${n} error${n === 1 ? '' : 's'}${report.warnings.length ? ` and ${report.warnings.length} warning${report.warnings.length === 1 ? '' : 's'}` : ''}:\n` + lines.join('\n'),
    hint: `fix the lines above, then run \`dr inventory check -i ${shown}\``,
    exit: 'usage',
    details: { errors: report.errors, warnings: report.warnings },
  })
}

/** Load, check and normalise an inventory; throws DrError 'inventory.invalid' listing every problem. */
export async function loadInventory(file: string, opts: { warn?: (message: string) => void } = {}): Promise<Inventory> {
  const report = await readInventoryFile(file)
  if (!report.inventory) throw invalidInventoryError(report)
  for (const w of report.warnings) opts.warn?.(formatProblem(path.basename(report.file), w, { severity: false }))
  return report.inventory
}
