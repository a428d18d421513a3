// Prometheus textfile metrics for node_exporter's textfile collector, one series per cluster and store.
// The file is rewritten atomically (temp file, then rename) so the collector never reads half of it; series for
// other clusters/stores already in the file are kept.
import fsp from 'node:fs/promises'
import path from 'node:path'

export interface BackupRunMetrics {
  cluster: string
  store: string
  ok: boolean
  /** When the run ended. */
  at: Date
  durationMs: number
  sizeBytes?: number
}

const METRICS = {
  dr_backup_last_success_timestamp_seconds: 'Unix time of the last successful backup.',
  dr_backup_last_duration_seconds: 'Duration of the last backup run, successful or not.',
  dr_backup_last_size_bytes: 'Stored size of the last successful backup.',
  dr_backup_failures_total: 'Backup runs that failed.',
} as const
type MetricName = keyof typeof METRICS

type Series = Map<string, number> // labels text → value

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
const labels = (cluster: string, store: string) => `{cluster="${escape(cluster)}",store="${escape(store)}"}`

export function parseTextfile(text: string): Map<MetricName, Series> {
  const out = new Map<MetricName, Series>()
  for (const line of text.split('\n')) {
    const m = /^(dr_backup_[a-z_]+)(\{[^}]*\}) (\S+)$/.exec(line.trim())
    if (!m || !(m[1] in METRICS)) continue
    const name = m[1] as MetricName
    if (!out.has(name)) out.set(name, new Map())
    out.get(name)!.set(m[2], Number(m[3]))
  }
  return out
}

export function renderTextfile(series: Map<MetricName, Series>): string {
  const lines: string[] = []
  for (const [name, help] of Object.entries(METRICS) as [MetricName, string][]) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${name.endsWith('_total') ? 'counter' : 'gauge'}`)
    for (const [l, v] of [...(series.get(name) ?? new Map()).entries()].sort()) lines.push(`${name}${l} ${v}`)
  }
  return lines.join('\n') + '\n'
}

/** Fold one run into the existing series. Pure. */
export function applyRun(series: Map<MetricName, Series>, run: BackupRunMetrics): Map<MetricName, Series> {
  const next = new Map([...series].map(([k, v]) => [k, new Map(v)] as [MetricName, Series]))
  const l = labels(run.cluster, run.store)
  const set = (name: MetricName, v: number) => {
    if (!next.has(name)) next.set(name, new Map())
    next.get(name)!.set(l, v)
  }
  set('dr_backup_last_duration_seconds', run.durationMs / 1000)
  const failures = next.get('dr_backup_failures_total')?.get(l) ?? 0
  set('dr_backup_failures_total', failures + (run.ok ? 0 : 1))
  if (run.ok) {
    set('dr_backup_last_success_timestamp_seconds', Math.floor(run.at.getTime() / 1000))
    if (run.sizeBytes !== undefined) set('dr_backup_last_size_bytes', run.sizeBytes)
  }
  return next
}

export async function recordRun(file: string, run: BackupRunMetrics): Promise<void> {
  const current = await fsp.readFile(file, 'utf8').catch(() => '')
  const text = renderTextfile(applyRun(parseTextfile(current), run))
  await fsp.mkdir(path.dirname(file), { recursive: true })
  const tmp = `${file}.${process.pid}.tmp`
  await fsp.writeFile(tmp, text, { mode: 0o644 })
  await fsp.rename(tmp, file)
}
