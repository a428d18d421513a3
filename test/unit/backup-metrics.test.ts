import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { applyRun, parseTextfile, recordRun, renderTextfile } from '../../src/backup/metrics.ts'
import { chooseSnapshotMember } from '../../src/backup/member.ts'
import { backupFreshness } from '../../src/backup/freshness.ts'

t.test('textfile metrics: per cluster/store series, counters survive rewrites, atomic file', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-metrics-'))
  const file = path.join(dir, 'sub', 'dr_backup.prom')
  const at = new Date('2026-11-21T22:00:00Z')
  await recordRun(file, { cluster: 'lab', store: 'local', ok: true, at, durationMs: 1500, sizeBytes: 1234 })
  await recordRun(file, { cluster: 'lab', store: 'offsite', ok: false, at, durationMs: 300 })
  await recordRun(file, { cluster: 'lab', store: 'offsite', ok: false, at, durationMs: 200 })
  const text = fs.readFileSync(file, 'utf8')
  t.match(text, /^# TYPE dr_backup_failures_total counter$/m)
  t.match(text, /^dr_backup_last_success_timestamp_seconds\{cluster="lab",store="local"\} 1795298400$/m)
  t.match(text, /^dr_backup_last_size_bytes\{cluster="lab",store="local"\} 1234$/m)
  t.match(text, /^dr_backup_last_duration_seconds\{cluster="lab",store="offsite"\} 0.2$/m)
  t.match(text, /^dr_backup_failures_total\{cluster="lab",store="offsite"\} 2$/m)
  t.match(text, /^dr_backup_failures_total\{cluster="lab",store="local"\} 0$/m)
  t.notMatch(text, /last_success_timestamp_seconds\{cluster="lab",store="offsite"\}/, 'no success recorded for a store that never succeeded')
  t.same(fs.readdirSync(path.dirname(file)), ['dr_backup.prom'], 'no temp file left behind')
  t.equal(renderTextfile(parseTextfile(text)), text, 'parse/render round-trips')
  const escaped = renderTextfile(applyRun(new Map(), { cluster: 'a"b', store: 'x\\y', ok: true, at, durationMs: 1 }))
  t.match(escaped, /cluster="a\\"b",store="x\\\\y"/)
  fs.rmSync(dir, { recursive: true })
})

t.test('snapshot member: a healthy follower with the highest applied index', async (t) => {
  const m = (host: string, o: Partial<Parameters<typeof chooseSnapshotMember>[0][0]> = {}) => ({ host, reachable: true, quorumRead: true, isLeader: false, raftAppliedIndex: 10, errors: [], ...o })
  t.equal(chooseSnapshotMember([m('a', { isLeader: true, raftAppliedIndex: 99 }), m('b', { raftAppliedIndex: 5 }), m('c', { raftAppliedIndex: 7 })]).host, 'c')
  t.equal(chooseSnapshotMember([m('a', { isLeader: true }), m('b', { errors: ['NOSPACE'] }), m('c', { isLearner: true })]).host, 'a', 'the leader when no follower is healthy')
  const noQuorum = chooseSnapshotMember([m('a', { quorumRead: false, raftAppliedIndex: 3 }), m('b', { quorumRead: false, raftAppliedIndex: 8 }), m('c', { reachable: false })])
  t.equal(noQuorum.host, 'b')
  t.match(noQuorum.why, /no member has quorum/)
  t.same(chooseSnapshotMember([m('a', { reachable: false })]), { why: 'no etcd member could be reached' })
})

t.test('freshness: warn past twice the schedule', async (t) => {
  const now = new Date('2026-11-21T22:00:00Z')
  const at = (h: number) => ({ id: 'x', createdAt: new Date(now.getTime() - h * 3_600_000).toISOString() })
  t.equal(backupFreshness({ store: 's', newest: at(11), schedule: '0 */6 * * *', now }).severity, 'ok')
  const late = backupFreshness({ store: 's', newest: at(13), schedule: '0 */6 * * *', now })
  t.equal(late.severity, 'warn')
  t.match(late.message, /13\.0 h old, more than twice the schedule "0 \*\/6 \* \* \*" \(12\.0 h\)/)
  t.equal(backupFreshness({ store: 's', now }).severity, 'warn', 'no backup at all')
  t.equal(backupFreshness({ store: 's', newest: at(47), now }).severity, 'ok', 'no schedule: daily assumed')
})
