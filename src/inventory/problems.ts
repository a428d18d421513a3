// A problem found in an inventory: where it is (file:line:column and the field path), what is wrong, what to do.
// Rules return these; the loader attaches positions and throws one error listing all of them.
export type Path = Array<string | number>

export interface Problem {
  severity: 'error' | 'warning'
  path: Path
  message: string
  hint?: string
  /** Point at the key itself (unknown keys, duplicated hosts) rather than its value. */
  at?: 'key' | 'value'
  line?: number
  col?: number
}

export const error = (path: Path, message: string, hint?: string, at?: 'key' | 'value'): Problem => ({
  severity: 'error',
  path,
  message,
  hint,
  at,
})
export const warning = (path: Path, message: string, hint?: string, at?: 'key' | 'value'): Problem => ({
  severity: 'warning',
  path,
  message,
  hint,
  at,
})

/** `hosts.master1.roles[1]` */
export function formatPath(path: Path): string {
  let out = ''
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`
    else if (/^[A-Za-z_][\w-]*$/.test(seg)) out += out ? `.${seg}` : seg
    else out += `[${JSON.stringify(seg)}]`
  }
  return out || '(top level)'
}

/** `lab.yaml:12:5: error: hosts.master1.roles[1]: unknown role "ectd" (hint: did you mean "etcd"?)` */
export function formatProblem(file: string, p: Problem, o: { severity?: boolean } = {}): string {
  const where = p.line ? `${file}:${p.line}:${p.col ?? 1}` : file
  const hint = p.hint ? `\n    hint: ${p.hint}` : ''
  return `${where}: ${o.severity === false ? '' : p.severity + ': '}${formatPath(p.path)}: ${p.message}${hint}`
}

/** Edit distance where swapping two neighbours counts once ("ectd" → "etcd"), the most common typo. */
export function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  return d[a.length][b.length]
}

/** The closest known word, when it is close enough to be a typo. */
export function closest(word: string, known: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestD = Infinity
  for (const k of known) {
    const d = distance(word.toLowerCase(), k.toLowerCase())
    if (d < bestD) [best, bestD] = [k, d]
  }
  return best !== undefined && bestD < word.length && bestD <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined
}

export function didYouMean(word: string, known: Iterable<string>, otherwise?: string): string | undefined {
  const list = [...known]
  const c = closest(word, list)
  if (c) return `did you mean "${c}"?`
  return otherwise ?? (list.length ? `known: ${list.join(', ')}` : undefined)
}
