// Human tables and --json from the same data; progress lines for long work.

export interface OutputOptions {
  json: boolean
  verbose: boolean
  /** Stream for human output (stdout); progress and warnings go to stderr. */
  stdout?: NodeJS.WritableStream
  stderr?: NodeJS.WritableStream
}

export class Output {
  readonly json: boolean
  readonly verbose: boolean
  private readonly stdout: NodeJS.WritableStream
  private readonly stderr: NodeJS.WritableStream
  readonly tty: boolean

  constructor(o: OutputOptions) {
    this.json = o.json
    this.verbose = o.verbose
    this.stdout = o.stdout ?? process.stdout
    this.stderr = o.stderr ?? process.stderr
    this.tty = !!(this.stderr as NodeJS.WriteStream).isTTY && process.env.CI !== 'true'
  }

  /** A line of human output (suppressed under --json). */
  line(s = '') {
    if (!this.json) this.stdout.write(s + '\n')
  }
  /** Machine output: the one JSON document a --json command prints. */
  data(value: unknown) {
    this.stdout.write(JSON.stringify(value, null, 2) + '\n')
  }
  /** Progress for long work; on stderr so --json stays clean. */
  progress(s: string) {
    this.stderr.write((this.tty ? '\x1b[2m' + s + '\x1b[0m' : s) + '\n')
  }
  warn(s: string) {
    this.stderr.write(`warning: ${s}\n`)
  }
  debug(s: string) {
    if (this.verbose) this.stderr.write(`debug: ${s}\n`)
  }
}

/** A plain-text table with a header row; every cell is a string. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (c ?? '').padEnd(widths[i]))
      .join('  ')
      .trimEnd()
  return [fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt)].join('\n')
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['kB', 'MB', 'GB', 'TB']
  let v = n
  let u = -1
  do {
    v /= 1000
    u++
  } while (v >= 1000 && u < units.length - 1)
  return `${v.toFixed(1)} ${units[u]}`
}

export const formatDuration = (ms: number): string => (ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`)
