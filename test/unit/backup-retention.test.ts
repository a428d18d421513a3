import t from 'tap'
import { planRetention, weekKey } from '../../src/backup/retention.ts'

/** A generated history: one backup every 6 hours for 120 days, ending 2026-11-21T18:00Z. */
function history(days = 120, everyHours = 6) {
  const end = Date.parse('2026-11-21T18:00:00Z')
  const out = []
  for (let h = 0; h < days * 24; h += everyHours) out.push({ id: `b${h}`, createdAt: new Date(end - h * 3_600_000).toISOString() })
  return out.reverse()
}

t.test('keeps last N + daily + weekly + monthly on a generated history', async (t) => {
  const items = history()
  const plan = planRetention(items, { last: 5, daily: 7, weekly: 4, monthly: 6 })
  const kept = plan.keep.map((k) => k.item.createdAt)
  t.equal(plan.keep.length + plan.remove.length, items.length, 'every backup is either kept or removed')
  // last 5: the newest five
  t.same(kept.slice(0, 5), items.slice(-5).reverse().map((i) => i.createdAt))
  // daily: the newest of each of the last 7 days (Nov 21 … Nov 15), each at 18:00
  const days = new Set(plan.keep.filter((k) => k.reasons.some((r) => r.startsWith('daily'))).map((k) => k.item.createdAt))
  t.same([...days].sort(), ['15', '16', '17', '18', '19', '20', '21'].map((d) => `2026-11-${d}T18:00:00.000Z`))
  // weekly: newest in each of the last 4 ISO weeks (Sundays at 18:00, and this week's newest)
  const weeks = plan.keep.filter((k) => k.reasons.some((r) => r.startsWith('weekly'))).map((k) => k.item.createdAt).sort()
  t.same(weeks, ['2026-11-01T18:00:00.000Z', '2026-11-08T18:00:00.000Z', '2026-11-15T18:00:00.000Z', '2026-11-21T18:00:00.000Z'])
  // monthly: the newest of each of the last 6 months, but the history only covers Jul 24 … Nov 21 (5 months)
  const months = plan.keep.filter((k) => k.reasons.some((r) => r.startsWith('monthly'))).map((k) => k.item.createdAt).sort()
  t.same(months, ['2026-07-31T18:00:00.000Z', '2026-08-31T18:00:00.000Z', '2026-09-30T18:00:00.000Z', '2026-10-31T18:00:00.000Z', '2026-11-21T18:00:00.000Z'])
  const unique = new Set(kept)
  // 5 last (Nov 21 ×4, Nov 20) + 5 more days (Nov 15–19) + 2 more weeks (Nov 1, 8) + 4 more months
  t.equal(unique.size, 16, 'overlaps are counted once')
  t.equal(plan.keep.length, unique.size)
})

t.test('never deletes the newest, even with an all-zero policy', async (t) => {
  const items = history(3)
  const plan = planRetention(items, { last: 0, daily: 0, weekly: 0, monthly: 0 })
  t.equal(plan.keep.length, 1)
  t.equal(plan.keep[0].item.id, items.at(-1)!.id)
  t.same(plan.keep[0].reasons, ['newest'])
  t.same(planRetention([], { last: 1, daily: 1, weekly: 1, monthly: 1 }), { keep: [], remove: [] })
})

t.test('ISO weeks', async (t) => {
  t.equal(weekKey(new Date('2026-11-21T00:00:00Z')), '2026-W47')
  t.equal(weekKey(new Date('2027-01-01T00:00:00Z')), '2026-W53')
  t.equal(weekKey(new Date('2024-12-30T00:00:00Z')), '2025-W01')
})
