// The drill's figures and verdict from its records, and the report renderings: a drill that loses an
// acknowledged write, or whose steady state does not come back, fails with the reason; the HTML page is
// self-contained and escapes what commands printed.
import t from 'tap'
import { measure, outage, ratePerSecond, sequencesOf } from '../../src/drill/measure.ts'
import { recoverySeconds, timeline, verdict, verifiedSeconds } from '../../src/drill/verdict.ts'
import { renderHtml } from '../../src/drill/report-html.ts'
import { renderMarkdown } from '../../src/drill/report-md.ts'
import { reportSummary } from '../../src/drill/store.ts'
import type { ActivityRecord, DrillReport, SteadyState } from '../../src/drill/types.ts'
import type { WriteSample } from '../../src/drill/writer.ts'

/** One write every 100 ms for 20 s; writes starting in [5 s, 12 s) fail (the outage). */
function samples(): WriteSample[] {
  const out: WriteSample[] = []
  for (let i = 0; i < 200; i++) {
    const start = i * 100
    out.push({ seq: i + 1, start, end: start + 20, ok: start < 5000 || start >= 12000 })
  }
  return out
}

const act = (id: string, role: ActivityRecord['role'], start: number, durationMs: number, status: ActivityRecord['status'] = 'succeeded'): ActivityRecord => ({
  id, title: id, role, action: { kind: 'sleep', ms: 0 }, status, startedAt: '', endedAt: '', start, durationMs,
})
const holds = (ok: boolean, detail = 'fine'): SteadyState => ({ ok, at: '2026-12-01T00:00:00.000Z', durationMs: 500, probes: [{ name: 'quorum read and write', ok, detail }] })

t.test('the outage is measured by the writer: first failure after the fault to the next acknowledged write', async (t) => {
  const s = samples()
  t.same(outage(s, 4000), { firstFailure: 5000, firstAckAfter: 12020 })
  t.same(outage(s, 15000), {}, 'no failure after the fault: no outage')
  // A blip while the fault is injected (a write fails on a leader change, the next succeeds on the members still
  // up), then the real outage: the recovery is the first write acknowledged after the failures before the recovery.
  const blip = s.map((x) => (x.start === 4100 ? { ...x, ok: false } : x.start >= 4200 && x.start < 4500 ? { ...x, ok: true } : x.start >= 4500 && x.start < 5000 ? { ...x, ok: false } : x))
  t.same(outage(blip, 4000, 6000), { firstFailure: 4100, firstAckAfter: 12020 }, 'a blip during the fault is not the recovery')
  t.same(outage(blip, 4000), { firstFailure: 4100, firstAckAfter: 4220 }, 'without a recovery time the first acknowledged write counts')
  const never = s.map((x) => (x.start === 4100 ? { ...x, ok: false } : x.start >= 4200 && x.start < 4500 ? { ...x, ok: true } : x.start >= 4500 ? { ...x, ok: false } : x))
  t.same(outage(never, 4000, 6000), { firstFailure: 4100, firstAckAfter: undefined }, 'a recovery that never came has no end, whatever blipped during the fault')
  const method = [act('power-off', 'fault', 4000, 900), act('failover', 'recovery', 6000, 9000)]
  const w = measure({ samples: s, present: new Set(s.filter((x) => x.ok).map((x) => x.seq)), faultAt: 4000, lossBudget: 'none' })
  t.equal(recoverySeconds(method, w), 7)
  t.equal(verifiedSeconds(method, w), 10, 'from the first failure to the end of the failover')
  t.equal(verifiedSeconds([act('power-off', 'fault', 4000, 900), act('failover', 'recovery', 6000, 9000, 'failed')], w), null)
  t.equal(recoverySeconds([act('x', 'prepare', 0, 1)], w), null, 'no fault, no recovery time')
})

t.test('acknowledged writes missing afterwards are lost; unacknowledged ones never count', async (t) => {
  const s = samples()
  const present = new Set(s.filter((x) => x.ok).map((x) => x.seq))
  present.delete(50)
  present.delete(130)
  const w = measure({ samples: s, present, faultAt: 4000, lossBudget: 'none', prefix: 'dr-drill/x/' })
  t.equal(w.attempted, 200)
  t.equal(w.acknowledged, 130)
  t.equal(w.lost, 2)
  t.same(w.lostKeys, ['dr-drill/x/00000050', 'dr-drill/x/00000130'])
  t.equal(w.rate.length, 20, 'one row per second')
  t.same(w.rate[0], { t: 0, ok: 10, failed: 0 })
  t.same(w.rate[7], { t: 7, ok: 0, failed: 10 })
  const budget = measure({ samples: s, present, faultAt: 4000, lossBudget: 'after-backup', recoveryPointAt: 4950 })
  t.equal(budget.lost, 1, 'a write acknowledged before the backup and missing is lost…')
  t.equal(budget.lostWithinBudget, 1, '…one acknowledged after it is within the recovery point')
  t.same([...sequencesOf(['dr-drill/x/00000007', 'dr-drill/x/junk', 'other/00000001'], 'dr-drill/x/')], [7])
  t.same(ratePerSecond([]), [])
})

t.test('the verdict: pass only with the steady state before and after, every activity done, nothing lost', async (t) => {
  const s = samples()
  const all = new Set(s.filter((x) => x.ok).map((x) => x.seq))
  const w = measure({ samples: s, present: all, faultAt: 4000, lossBudget: 'none' })
  const method = [act('power-off', 'fault', 4000, 900), act('failover', 'recovery', 6000, 9000)]
  t.same(verdict({ steadyStateBefore: holds(true), steadyStateAfter: holds(true), method, writes: w }), { verdict: 'pass', reasons: [] })

  const after = verdict({ steadyStateBefore: holds(true), steadyStateAfter: holds(false, 'no member answered'), method, writes: w })
  t.equal(after.verdict, 'fail')
  t.match(after.reasons[0], /steady state did not come back after the recovery: quorum read and write: no member answered/)

  const lostOne = new Set(all)
  lostOne.delete(3)
  const lost = verdict({ steadyStateBefore: holds(true), steadyStateAfter: holds(true), method, writes: measure({ samples: s, present: lostOne, faultAt: 4000, lossBudget: 'none', prefix: 'k/' }) })
  t.same(lost.reasons, ['1 acknowledged write(s) lost (k/00000003)'])

  const failed = verdict({ steadyStateBefore: holds(true), steadyStateAfter: holds(true), method: [act('power-off', 'fault', 4000, 900), { ...act('failover', 'recovery', 6000, 9000, 'failed'), error: 'error[failover.x]: boom' }], writes: w })
  t.match(failed.reasons, [/failover failed: error\[failover.x\]: boom/])

  const before = verdict({ steadyStateBefore: holds(false, 'no quorum'), method: [], writes: w })
  t.match(before.reasons, [/did not hold before the fault, so nothing was broken/])
  t.equal(before.reasons.length, 1, 'nothing else is blamed when nothing was broken')

  const never = measure({ samples: s.map((x) => (x.start >= 5000 ? { ...x, ok: false } : x)), present: all, faultAt: 4000, lossBudget: 'none' })
  t.match(verdict({ steadyStateBefore: holds(true), steadyStateAfter: holds(true), method, writes: never }).reasons, [/no write was acknowledged after the fault/])
  t.match(verdict({ steadyStateBefore: holds(true), steadyStateAfter: holds(true), method, writes: w, countError: 'no quorum' }).reasons, [/could not be counted: no quorum/])
})

function report(): DrillReport {
  const s = samples()
  const method = [act('lead', 'prepare', 1000, 500), act('power-off', 'fault', 4000, 900), { ...act('failover', 'recovery', 6000, 9000), command: 'dr failover --site B --yes', output: '<script>alert(1)</script> & done', steps: [{ id: 'force', title: 'Re-create etcd with --force-new-cluster', outcome: 'done', start: 8000, durationMs: 4000 }] }]
  const writes = measure({ samples: s, present: new Set(s.filter((x) => x.ok).map((x) => x.seq)), faultAt: 4000, lossBudget: 'none' })
  const r: DrillReport = {
    scenario: 'site-loss', title: 'Site A lost, failover to site B', id: '20261201T000000Z-site-loss', cluster: 'lab', inventory: '/x/lab.yaml', lab: true,
    verdict: 'pass', reasons: [], warnings: ['rollback "Bring site A home" failed: error[not-built]: `dr failback` is not built yet'], startedAt: '2026-12-01T00:00:00.000Z', endedAt: '2026-12-01T00:00:25.000Z', durationMs: 25000,
    recoverySeconds: 7, verifiedSeconds: 10, acknowledgedWrites: writes.acknowledged, lostWrites: 0, writes, lossBudget: 'none', description: ['Site A loses power.'],
    steadyStateBefore: holds(true), steadyStateAfter: { ...holds(true), at: '2026-12-01T00:00:15.000Z' }, timeline: [], method, rollbacks: [act('power-on', 'rollback', 20000, 3000)],
    platform: { dr: '0.1.0', node: 'v20', hostname: 'h', user: 'u' }, status: 'completed',
  }
  r.timeline = timeline(r)
  return r
}

t.test('the timeline: fault, detection, each recovery step, recovered, verified, in time order', async (t) => {
  const ev = report().timeline
  t.same(ev.map((e) => e.kind), ['start', 'step', 'fault', 'detection', 'step', 'step', 'recovered', 'verified', 'rollback', 'end'])
  t.match(ev.find((e) => e.kind === 'recovered'), { t: 12020 })
  t.match(ev.find((e) => e.kind === 'verified'), { t: 15000 })
  t.ok(ev.some((e) => e.label.includes('--force-new-cluster')), 'runbook steps of the recovery are on it')
})

t.test('the HTML page is self-contained, draws both charts and escapes command output', async (t) => {
  const html = renderHtml(report())
  t.match(html, /^<!doctype html>/)
  t.notMatch(html, /<script|<link|src=|@import|url\(/i, 'no scripts, stylesheets, images or fonts from anywhere')
  t.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt; &amp; done/, 'output escaped')
  t.match(html, /<svg id="timeline-chart"/)
  t.match(html, /<svg id="rate-chart"/)
  t.equal((html.match(/class="bar/g) ?? []).length, 7, 'a bar per activity, runbook step and steady-state check')
  t.ok((html.match(/class="ok"/g) ?? []).length >= 12, 'a bar per second with acknowledged writes')
  t.ok((html.match(/class="fail"/g) ?? []).length >= 7, 'a bar per second with failed writes')
  for (const k of ['fault', 'detection', 'recovered', 'verified']) t.match(html, new RegExp(`marker-${k}`), `${k} marked`)
  t.match(html, /id="verdict">PASS</)
  t.match(html, /failback` is not built yet/)
  const md = renderMarkdown(report())
  t.match(md, /^# Drill site-loss: PASS/)
  t.match(md, /\| recovery time \(first failed write → first acknowledged write\) \| 7 s \|/)
  t.match(md, /\| acknowledged writes lost \| 0 \|/)
  t.match(md, /Re-create etcd with --force-new-cluster/)
})

t.test('dr drill --json prints a summary: the figures and outcomes, the full report by path, no samples or output', async (t) => {
  const r = report()
  r.method[0].output = 'x'.repeat(100_000)
  const s = reportSummary(r, '/tmp/drills/d1')
  t.equal(s.report, '/tmp/drills/d1/report.json')
  t.match(s, { scenario: r.scenario, verdict: r.verdict, recoverySeconds: r.recoverySeconds, acknowledgedWrites: r.acknowledgedWrites, lostWrites: r.lostWrites })
  t.same(s.method.map((a) => `${a.id}:${a.status}`), r.method.map((a) => `${a.id}:${a.status}`))
  t.same(s.timeline, r.timeline)
  const text = JSON.stringify(s)
  t.ok(text.length < JSON.stringify(r).length / 10, `${text.length} characters against ${JSON.stringify(r).length}`)
  t.notMatch(text, /xxxxxxxxxx/, "no command's output")
  t.notOk('writes' in s, 'no write samples')
})
