// Edit the flags of a process's argument list (everything after the executable) without touching anything else:
// `--flag=value`, `--flag value`, boolean `--flag`, repeated flags, Go's single-dash `-flag`. An edited flag keeps
// its written form; every other word stays byte for byte where it was.

export interface FlagOccurrence {
  /** The flag's name without dashes. */
  name: string
  /** '-' or '--', as written. */
  dashes: string
  value?: string
  form: 'eq' | 'sep' | 'bool'
  /** Index of the flag word, and how many words it spans (2 for `--flag value`). */
  index: number
  count: number
}

export interface ParseOptions {
  /** Flags known to take no value: `--x y` is then the flag x and the word y. */
  booleans?: Iterable<string>
}

const bare = (flag: string): string => flag.replace(/^--?/, '')
const FLAG = /^(--?)([A-Za-z0-9][A-Za-z0-9_.:-]*)(=([\s\S]*))?$/

/**
 * Every flag in an argument list. `--x y` (y not starting with '-') is read as x with the value y unless x is
 * a known boolean; parsing stops at `--`.
 */
export function parseFlags(args: readonly string[], opts: ParseOptions = {}): FlagOccurrence[] {
  const booleans = new Set([...(opts.booleans ?? [])].map(bare))
  const out: FlagOccurrence[] = []
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--') break
    const m = FLAG.exec(args[i])
    if (!m) continue
    const [, dashes, name, eq, value] = m
    if (eq !== undefined) out.push({ name, dashes, value, form: 'eq', index: i, count: 1 })
    else if (!booleans.has(name) && i + 1 < args.length && !args[i + 1].startsWith('-')) {
      out.push({ name, dashes, value: args[i + 1], form: 'sep', index: i, count: 2 })
      i++
    } else out.push({ name, dashes, form: 'bool', index: i, count: 1 })
  }
  return out
}

/** The last value of a flag (Go's flag package lets the last one win); a bare boolean reads as 'true'. */
export function getFlag(args: readonly string[], flag: string, opts?: ParseOptions): string | undefined {
  const all = getFlagAll(args, flag, opts)
  return all[all.length - 1]
}

export function getFlagAll(args: readonly string[], flag: string, opts?: ParseOptions): string[] {
  return parseFlags(args, opts)
    .filter((f) => f.name === bare(flag))
    .map((f) => f.value ?? 'true')
}

export const hasFlag = (args: readonly string[], flag: string, opts?: ParseOptions): boolean => parseFlags(args, opts).some((f) => f.name === bare(flag))

/** Where a new flag goes: before a `--` terminator, else at the end. */
function insertionPoint(args: readonly string[]): number {
  const dd = args.indexOf('--')
  return dd === -1 ? args.length : dd
}

/**
 * Set a flag to one value. The first occurrence is rewritten in its own form (`--x=v` or `--x v`; a bare boolean
 * becomes `--x=v`, or stays bare for value true); later repeats are removed; a missing flag is appended as `--x=v`.
 * `value === true` means a bare boolean flag.
 */
export function setFlag(args: readonly string[], flag: string, value: string | true, opts?: ParseOptions): string[] {
  const name = bare(flag)
  const found = parseFlags(args, opts).filter((f) => f.name === name)
  if (found.length === 0) {
    const out = [...args]
    out.splice(insertionPoint(args), 0, value === true ? `--${name}` : `--${name}=${value}`)
    return out
  }
  const [first, ...rest] = found
  const replacement =
    value === true
      ? first.form === 'bool'
        ? [args[first.index]]
        : [`${first.dashes}${name}`]
      : first.form === 'sep'
        ? [args[first.index], value]
        : [`${first.dashes}${name}=${value}`]
  return splice(args, [{ at: first, words: replacement }, ...rest.map((r) => ({ at: r, words: [] }))])
}

/** Set a repeated flag to a list of values (`--x=a --x=b`), in place of the first occurrence. */
export function setFlagAll(args: readonly string[], flag: string, values: string[], opts?: ParseOptions): string[] {
  const name = bare(flag)
  const found = parseFlags(args, opts).filter((f) => f.name === name)
  const words = values.map((v) => `${found[0]?.dashes ?? '--'}${name}=${v}`)
  if (found.length === 0) {
    const out = [...args]
    out.splice(insertionPoint(args), 0, ...words)
    return out
  }
  return splice(args, [{ at: found[0], words }, ...found.slice(1).map((r) => ({ at: r, words: [] }))])
}

/** Remove every occurrence of a flag (with its value word, for `--x value`). */
export function removeFlag(args: readonly string[], flag: string, opts?: ParseOptions): string[] {
  const name = bare(flag)
  return splice(
    args,
    parseFlags(args, opts)
      .filter((f) => f.name === name)
      .map((at) => ({ at, words: [] })),
  )
}

/** Append words that are not already there (an added `--force-new-cluster` is added once, however often run). */
export function addArgs(args: readonly string[], words: readonly string[]): string[] {
  const out = [...args]
  const missing = words.filter((w) => !args.includes(w))
  out.splice(insertionPoint(args), 0, ...missing)
  return out
}

function splice(args: readonly string[], edits: Array<{ at: FlagOccurrence; words: string[] }>): string[] {
  const out = [...args]
  for (const e of [...edits].sort((a, b) => b.at.index - a.at.index)) out.splice(e.at.index, e.at.count, ...e.words)
  return out
}
