// dr drill on a lab of its own, end to end: total-loss (backup, every member wiped, restore) passes with no
// acknowledged write lost before the backup and leaves the lab as it found it; the same drill with its recovery
// sabotaged fails with the reason and is put back; site-loss (failover with --force-new-cluster from a survivor
// that led, so it held every acknowledged write) passes with 0 lost; the HTML report renders in headless
// Chromium with both charts and no console message; `dr drill list --json` lists the three drills.
import t from 'tap'
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import { promisify } from 'node:util'
import { TestLab } from '../helpers/lab.ts'
import { dr as drAnywhere } from '../helpers/dr.ts'

const run = promisify(execFile)
const lab = new TestLab('e2e-drill')
const dr = lab.dr.bind(lab)
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-e2e-drill-'))
const DRILL_MS = 1_200_000

t.before(() => lab.freshWithRetry((m) => t.comment(m)))
t.teardown(async () => {
  await lab.down()
  fs.rmSync(tmp, { recursive: true, force: true })
})

const readReport = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'))
const members = async () => JSON.parse(await lab.etcdctl('master3', ['member', 'list', '-w', 'json'])).members.map((m: { name: string }) => m.name).sort()

t.test('a drill refuses a cluster that is not a lab unless it is named', async (t) => {
  const r = await drAnywhere(['drill', 'site-loss', '--yes', '-i', 'inventories/examples/rke-two-sites.yaml'])
  t.equal(r.code, 3, 'exit 3: refused')
  t.match(r.stderr, /error\[drill\.not-a-lab\].*is not a dr lab/)
  t.match(r.stderr, /--allow-destructive-drills seed003/)
})

t.test('total-loss: backup, wipe every member, restore; the lab is back as it was', async (t) => {
  const dir = path.join(tmp, 'total-loss')
  const r = await dr(['drill', 'total-loss', '--yes', '--report', dir], { timeoutMs: DRILL_MS })
  t.equal(r.code, 0, 'the drill passed (exit 0)', { stdout: r.stdout, stderr: r.stderr.slice(-3000) })
  const rep = readReport(dir)
  t.equal(rep.scenario, 'total-loss')
  t.equal(rep.verdict, 'pass', rep.reasons.join('; '))
  t.ok(rep.recoverySeconds > 0, `recovery time ${rep.recoverySeconds} s`)
  t.ok(rep.acknowledgedWrites > 20, `${rep.acknowledgedWrites} acknowledged writes`)
  t.equal(rep.lostWrites, 0, 'no write acknowledged before the backup is lost')
  t.ok(rep.writes.rate.some((x: { failed: number }) => x.failed > 0), 'the writer saw the outage')
  t.match(rep.method.map((a: { id: string; status: string }) => `${a.id}:${a.status}`), ['backup:succeeded', 'wipe:succeeded', 'see-quorum-lost:succeeded', 'restore:succeeded'])
  t.ok(rep.method[3].steps?.length > 0, "the restore runbook's steps are in the report")
  t.ok(rep.putBack.ok, 'put back as found', { probes: rep.putBack.probes })
  t.same(await members(), ['etcd-master1', 'etcd-master2', 'etcd-master3'], 'every member back (seen from inside the lab)')
  for (const f of ['report.json', 'report.md', 'report.html']) t.ok(fs.existsSync(path.join(dir, f)), f)
  t.equal((await lab.etcdctl('master1', ['get', '--prefix', 'dr-drill/', '--keys-only'])).trim(), '', "the writer's keys are cleaned up")
  t.comment(`total-loss: recovery ${rep.recoverySeconds} s, verified ${rep.verifiedSeconds} s, ${rep.acknowledgedWrites} acknowledged, ${rep.lostWrites} lost (+${rep.writes.lostWithinBudget} after the backup)`)
})

t.test('a sabotaged recovery fails the drill with the reason, and the lab is put back', async (t) => {
  const dir = path.join(tmp, 'sabotaged')
  const r = await dr(['drill', 'total-loss', '--yes', '--report', dir], { timeoutMs: DRILL_MS, env: { DR_DRILL_SABOTAGE: 'recovery-noop', DR_DRILL_SETTLE_MS: '15000' } })
  t.equal(r.code, 4, 'the drill failed (exit 4)', { stdout: r.stdout })
  t.match(r.stdout, /drill total-loss: FAIL/)
  const rep = readReport(dir)
  t.equal(rep.verdict, 'fail')
  t.equal(rep.sabotage, 'recovery-noop')
  t.match(rep.reasons.join('\n'), /the steady state did not come back after the recovery: quorum read and write: no member answered a linearizable read/)
  t.equal(rep.recoverySeconds, null, 'no recovery time: it never recovered')
  t.match(rep.rollbacks, [{ id: 'unwipe', status: 'succeeded' }], 'the wiped data was put back')
  t.ok(rep.putBack.ok, 'put back as found', { probes: rep.putBack.probes })
  t.same(await members(), ['etcd-master1', 'etcd-master2', 'etcd-master3'])
  t.match(fs.readFileSync(path.join(dir, 'report.md'), 'utf8'), /^# Drill total-loss: FAIL/)
})

t.test('site-loss: failover from a survivor that held every acknowledged write loses none', async (t) => {
  const dir = path.join(tmp, 'site-loss')
  const r = await dr(['drill', 'site-loss', '--yes', '--report', dir], { timeoutMs: DRILL_MS })
  t.equal(r.code, 0, 'the drill passed (exit 0)', { stdout: r.stdout, stderr: r.stderr.slice(-3000) })
  const rep = readReport(dir)
  t.equal(rep.verdict, 'pass', rep.reasons.join('; '))
  t.equal(rep.lostWrites, 0, '0 acknowledged writes lost')
  t.ok(rep.acknowledgedWrites > 20)
  t.ok(rep.recoverySeconds > 0, `recovery time ${rep.recoverySeconds} s`)
  t.ok(rep.verifiedSeconds >= rep.recoverySeconds - 1, 'verified after the first write was taken again')
  const kinds = rep.timeline.map((e: { kind: string }) => e.kind)
  for (const k of ['fault', 'detection', 'recovered', 'verified']) t.ok(kinds.includes(k), `timeline has ${k}`)
  t.ok(rep.method.find((a: { id: string }) => a.id === 'failover').steps.some((s: { id: string }) => s.id === 'force-new-cluster'), 'the failover steps are on the timeline')
  t.match(rep.steadyStateAfter.probes.map((p: { ok: boolean }) => p.ok), [true, true, true])
  t.comment(`site-loss: recovery ${rep.recoverySeconds} s, verified ${rep.verifiedSeconds} s, ${rep.acknowledgedWrites} acknowledged, ${rep.lostWrites} lost`)
  for (const w of rep.warnings) t.comment(`put back: ${w}`)
})

/** Share of a PNG's decoded bytes that are neither 0 nor 255: near 0 for a blank page. */
function inkShare(png: Buffer): number {
  const idat: Buffer[] = []
  for (let i = 8; i < png.length; ) {
    const len = png.readUInt32BE(i)
    if (png.toString('ascii', i + 4, i + 8) === 'IDAT') idat.push(png.subarray(i + 8, i + 8 + len))
    i += 12 + len
  }
  const raw = zlib.inflateSync(Buffer.concat(idat))
  let ink = 0
  for (const b of raw) if (b !== 0 && b !== 255) ink++
  return ink / raw.length
}

async function chromium(url: string, args: string[]) {
  const profile = fs.mkdtempSync(path.join(tmp, 'chromium-'))
  const base = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, '--enable-logging=stderr', '--v=0']
  return run('/usr/bin/chromium', [...base, ...args, url], { timeout: 180_000, maxBuffer: 64 << 20 })
}

t.test('the HTML report in headless Chromium: drawn, both charts, no console message', async (t) => {
  const html = path.join(tmp, 'site-loss', 'report.html')
  const url = `file://${html}`
  const shot = path.join(tmp, 'report.png')
  const s = await chromium(url, ['--window-size=1100,1600', `--screenshot=${shot}`, '--hide-scrollbars'])
  t.ok(fs.statSync(shot).size > 20_000, 'a screenshot was taken')
  t.ok(inkShare(fs.readFileSync(shot)) > 0.02, 'the screenshot is not blank')
  const d = await chromium(url, ['--dump-dom'])
  for (const out of [s.stderr, d.stderr]) t.notMatch(out, /CONSOLE|Uncaught|Failed to load resource/, 'no console message, no failed resource')
  t.match(d.stdout, /<svg id="timeline-chart"/)
  t.ok((d.stdout.match(/<rect[^>]*class="bar/g) ?? []).length >= 5, 'the timeline has its bars')
  t.ok((d.stdout.match(/<rect[^>]*class="ok"/g) ?? []).length >= 5, 'the write-rate chart has its bars')
  t.match(d.stdout, /marker-recovered/)
  const kept = path.join(os.tmpdir(), `${lab.name}-report.png`)
  fs.copyFileSync(shot, kept)
  t.comment(`screenshot: ${kept}`)
  // The console check can fail: the same browser run on a page that logs an error is caught.
  const bad = path.join(tmp, 'bad.html')
  fs.writeFileSync(bad, '<!doctype html><title>x</title><p>x</p><script>console.error("broken chart")</script>')
  t.match((await chromium(`file://${bad}`, ['--dump-dom'])).stderr, /CONSOLE.*broken chart/, 'a console error would be seen')
})

t.test('dr drill list --json: the past drills side by side', async (t) => {
  const r = await dr(['drill', 'list', '--json'])
  t.equal(r.code, 0, r.stderr)
  const list = r.json()
  t.ok(Array.isArray(list), 'an array')
  t.same(list.map((d: { scenario: string; verdict: string }) => `${d.scenario}:${d.verdict}`), ['total-loss:pass', 'total-loss:fail', 'site-loss:pass'])
  for (const d of list) for (const k of ['id', 'startedAt', 'recoverySeconds', 'acknowledgedWrites', 'lostWrites', 'report']) t.ok(k in d, `${k} present`)
  const human = await dr(['drill', 'list'])
  t.match(human.stdout, /SCENARIO\s+VERDICT\s+RECOVERY/)
})
