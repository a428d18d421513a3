// Which backups to keep: the last N, plus the newest of each of the last D days, W ISO weeks and M months
// (restic's and borg's rule). The newest backup is always kept, whatever the policy says, and so is the newest
// sound one (complete, with its metadata, sizes matching): a broken newest backup never costs the last good one. Pure.

export interface RetentionPolicy {
  last: number
  daily: number
  weekly: number
  monthly: number
}

export interface Dated {
  id: string
  createdAt: string | Date
}

export interface RetentionPlan<T extends Dated> {
  keep: Array<{ item: T; reasons: string[] }>
  remove: T[]
}

const iso = (d: Date) => d.toISOString()
const dayKey = (d: Date) => iso(d).slice(0, 10)
const monthKey = (d: Date) => iso(d).slice(0, 7)

/** ISO-8601 week, e.g. 2026-W47 (weeks start on Monday; week 1 holds the year's first Thursday). */
export function weekKey(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()))
  const dow = t.getUTCDay() || 7
  t.setUTCDate(t.getUTCDate() + 4 - dow)
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1)
  const week = Math.ceil(((t.getTime() - yearStart) / 86_400_000 + 1) / 7)
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`
}

export function planRetention<T extends Dated>(items: readonly T[], policy: RetentionPolicy, opts: { isSound?: (item: T) => boolean } = {}): RetentionPlan<T> {
  const sorted = [...items].sort((a, b) => new Date(b.createdAt).getTime() - new Date(a.createdAt).getTime())
  const reasons = new Map<T, string[]>()
  const mark = (item: T, why: string) => reasons.set(item, [...(reasons.get(item) ?? []), why])

  sorted.slice(0, Math.max(0, policy.last)).forEach((item, i) => mark(item, `last ${i + 1}/${policy.last}`))
  const buckets: Array<[string, number, (d: Date) => string]> = [
    ['daily', policy.daily, dayKey],
    ['weekly', policy.weekly, weekKey],
    ['monthly', policy.monthly, monthKey],
  ]
  for (const [name, count, key] of buckets) {
    const seen = new Set<string>()
    for (const item of sorted) {
      if (seen.size >= count) break
      const k = key(new Date(item.createdAt))
      if (seen.has(k)) continue
      seen.add(k)
      mark(item, `${name} ${k}`)
    }
  }
  if (sorted.length > 0 && !reasons.has(sorted[0])) mark(sorted[0], 'newest')
  const newestSound = opts.isSound ? sorted.find(opts.isSound) : undefined
  if (newestSound && newestSound !== sorted[0]) mark(newestSound, 'newest sound')
  return {
    keep: sorted.filter((i) => reasons.has(i)).map((item) => ({ item, reasons: reasons.get(item)! })),
    remove: sorted.filter((i) => !reasons.has(i)),
  }
}
