// dr drill site-return and member-loss on one lab of their own (site A: master1–3, site B: master4), end to end.
// site-return: site A lost, failover to B; A returns cut off from B and its three old members (a majority of the
// old four) elect a leader of their own — `dr status` sees two quorums; `dr fence` leaves one; the partition heals
// and `dr failback` brings A home: every acknowledged write kept, every member back. member-loss: master3 is made
// the lab's spare (an etcd host that is not a member), then master2 dies for good and `dr member replace` puts the
// spare in its place; the drill swaps master2 back. Each drill's report.json is read; `--json` prints a summary.
import t, { type Test } from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { TestLab } from '../helpers/lab.ts'

const lab = new TestLab('e2e-drill-more', ['--sites', 'A=3,B=1', '--workers', '0'])
const dr = lab.dr.bind(lab)
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-e2e-drill-more-'))
const DRILL_MS = 900_000

t.before(() => lab.freshWithRetry((m) => t.comment(m)))
t.teardown(async () => {
  await lab.down()
  fs.rmSync(tmp, { recursive: true, force: true })
})

const readReport = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'))
const members = async (via: string) =>
  (JSON.parse(await lab.etcdctl(via, ['member', 'list', '-w', 'json'])).members as Array<{ name: string; isLearner?: boolean }>)
const names = async (via: string) => (await members(via)).map((m) => m.name).sort()
const statuses = (list: Array<{ id: string; status: string }>) => list.map((a) => `${a.id}:${a.status}`)

/** What every drill's report.json must carry at its top level. */
function checkTopLevel(t: Test, rep: any, scenario: string) {
  t.equal(rep.scenario, scenario)
  t.equal(rep.verdict, 'pass', rep.reasons.join('; '))
  for (const k of ['recoverySeconds', 'acknowledgedWrites', 'lostWrites', 'timeline']) t.ok(k in rep, `report.json has ${k}`)
  t.ok(rep.acknowledgedWrites > 20, `${rep.acknowledgedWrites} acknowledged writes`)
  t.equal(rep.lostWrites, 0, 'no acknowledged write lost')
  t.equal(typeof rep.recoverySeconds, 'number', `recovery time ${rep.recoverySeconds} s`)
  t.ok(rep.putBack?.ok, 'put back as found', { probes: rep.putBack?.probes })
  const kinds = new Set(rep.timeline.map((e: { kind: string }) => e.kind))
  for (const k of ['start', 'fault', 'verified', 'end']) t.ok(kinds.has(k), `timeline has ${k}`)
  // Each runbook step once: a child's journal belongs to that child only, not to the activity that ran after it.
  const seen = rep.timeline.filter((e: { kind: string }) => e.kind === 'step').map((e: { t: number; label: string }) => `${e.t} ${e.label}`)
  t.same(seen.filter((x: string, i: number) => seen.indexOf(x) !== i), [], 'no runbook step twice on the timeline')
}

t.test('site-return: split brain unfenced, one quorum fenced, healed, failback; nothing lost, the lab as found', async (t) => {
  const dir = path.join(tmp, 'site-return')
  const started = Date.now()
  const r = await dr(['drill', 'site-return', '--yes', '--report', dir], { timeoutMs: DRILL_MS })
  t.equal(r.code, 0, 'the drill passed (exit 0)', { stdout: r.stdout, stderr: r.stderr.slice(-4000) })
  const rep = readReport(dir)
  checkTopLevel(t, rep, 'site-return')
  t.same(statuses(rep.method), [
    'lead-from-survivor:succeeded', 'power-off:succeeded', 'see-quorum-lost:succeeded', 'failover:succeeded', 'cut-off:succeeded',
    'power-on-cut-off:succeeded', 'see-split-brain:succeeded', 'fence:succeeded', 'see-one-quorum:succeeded', 'heal:succeeded', 'failback:succeeded',
  ])
  const act = (id: string) => rep.method.find((a: { id: string }) => a.id === id)
  t.match(act('see-split-brain').output, /split brain: \S+ and \S+/, 'dr status saw two quorums while site A was unfenced')
  t.match(act('see-one-quorum').output, /one quorum \(exit 0\)/, 'and one once it was fenced')
  t.ok(act('failback').steps?.length > 0, "the failback runbook's steps are in the report")
  t.ok(rep.recoverySeconds > 0, 'the site loss was an outage the writer saw')
  t.same(await names('master4'), ['etcd-master1', 'etcd-master2', 'etcd-master3', 'etcd-master4'], 'every member back (seen from inside the lab)')
  t.notOk((await members('master1')).some((m) => m.isLearner), 'no learner left')
  t.comment(`site-return: recovery ${rep.recoverySeconds} s, verified ${rep.verifiedSeconds} s, ${rep.acknowledgedWrites} acknowledged, ${rep.lostWrites} lost; drill took ${Math.round((Date.now() - started) / 1000)} s`)
  for (const w of rep.warnings) t.comment(`warning: ${w}`)
})

t.test('member-loss: a member dies for good, the spare replaces it, and it is swapped back; --json prints a summary', async (t) => {
  // The lab's spare: master3 keeps the etcd role in the inventory but is no longer a member.
  // A removed member's etcd exits and its restart policy restarts it: `docker update` in member-retire can meet
  // it restarting ("cannot update a stopped container") and fail; the runbook resumes, so it is run again.
  let rm = await dr(['member', 'remove', 'master3', '--yes'])
  for (let i = 0; i < 2 && rm.code !== 0 && /cannot update a stopped container/.test(rm.stderr); i++) {
    t.comment('member remove met etcd restarting on master3; running it again (it resumes)')
    await new Promise((r) => setTimeout(r, 3000))
    rm = await dr(['member', 'remove', 'master3', '--yes'])
  }
  t.equal(rm.code, 0, 'master3 is no longer a member', { stderr: rm.stderr.slice(-2000) })
  t.same(await names('master1'), ['etcd-master1', 'etcd-master2', 'etcd-master4'])

  const plan = await dr(['drill', 'member-loss', '--plan', '--json'])
  t.equal(plan.code, 0, '--plan works', { stderr: plan.stderr.slice(-2000) })
  t.equal(plan.json().title, 'master2 dies, replaced by master3', 'the last member of site A dies; the spare of its site replaces it')

  const dir = path.join(tmp, 'member-loss')
  const started = Date.now()
  const r = await dr(['drill', 'member-loss', '--yes', '--json', '--report', dir], { timeoutMs: DRILL_MS })
  t.equal(r.code, 0, 'the drill passed (exit 0)', { stdout: r.stdout.slice(0, 4000), stderr: r.stderr.slice(-4000) })
  const rep = readReport(dir)
  checkTopLevel(t, rep, 'member-loss')
  t.same(statuses(rep.method), ['kill-host:succeeded', 'see-quorum-kept:succeeded', 'replace:succeeded'])
  t.same(statuses(rep.rollbacks), ['power-on:succeeded', 'swap-back:succeeded'])
  const retried = /earlier attempts failed: .*/.exec(rep.rollbacks[1].output ?? '')
  if (retried) t.comment(`swap-back needed another run: ${retried[0].slice(0, 300)}`)
  t.ok(rep.method[2].steps.some((s: { id: string }) => s.id === 'member-promote-master3'), 'the spare was promoted (a runbook step on the timeline)')
  t.same(await names('master1'), ['etcd-master1', 'etcd-master2', 'etcd-master4'], 'master2 back in place, master3 a spare again')

  // --json: the summary and the path of the full report, not megabytes of samples and command output.
  t.ok(r.stdout.length < 20_000, `--json printed ${r.stdout.length} characters`)
  const sum = r.json()
  t.equal(sum.report, path.join(dir, 'report.json'), 'the full report is named')
  t.match(sum, { scenario: 'member-loss', verdict: 'pass', recoverySeconds: rep.recoverySeconds, acknowledgedWrites: rep.acknowledgedWrites, lostWrites: 0, putBack: true })
  t.same(statuses(sum.method), statuses(rep.method))
  t.notOk('samples' in sum || 'writes' in sum, 'no write samples in the summary')
  t.comment(`member-loss: recovery ${rep.recoverySeconds} s, verified ${rep.verifiedSeconds} s, ${rep.acknowledgedWrites} acknowledged, ${rep.lostWrites} lost; drill took ${Math.round((Date.now() - started) / 1000)} s`)
  for (const w of rep.warnings) t.comment(`warning: ${w}`)
})

t.test('dr drill list --json: both drills with their figures', async (t) => {
  const r = await dr(['drill', 'list', '--json'])
  t.equal(r.code, 0, 'dr drill list --json', { stderr: r.stderr.slice(-2000) })
  t.same(r.json().map((d: { scenario: string; verdict: string }) => `${d.scenario}:${d.verdict}`), ['site-return:pass', 'member-loss:pass'])
})
