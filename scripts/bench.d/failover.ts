// Recovery time of `dr failover --site B` on the lab (issue 14, aim 1: ≤ 15 s from start to verified). Several runs,
// each on a fresh lab of the bench's own (`bench-failover`) with site A stopped; prints each run's time, the
// breakdown of the median run by step (and what went before the first step: assessment and plan), the median and
// spread, and the load average, since a loaded machine stretches every figure. Figures only; nothing is asserted.
import { spawnSync } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..')
const DR = path.join(ROOT, 'bin/dr.js')
const LAB = process.env.BENCH_LAB ?? 'bench-failover'
const INVENTORY = path.join(ROOT, 'inventories', `${LAB}.yaml`)
const runs = Number(process.env.BENCH_RUNS ?? 3)
const TARGET_S = 15

function dr(...args: string[]) {
  const r = spawnSync(process.execPath, [DR, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CI: 'true' }, maxBuffer: 64 << 20 })
  if (r.status !== 0) throw new Error(`dr ${args.join(' ')} failed (${r.status}):\n${r.stderr}`)
  return r.stdout
}

interface Run {
  durationMs: number
  wallMs: number
  load: number
  steps: Array<{ id: string; outcome: string; durationMs: number }>
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`
const results: Run[] = []
try {
  for (let i = 1; i <= runs; i++) {
    dr('lab', 'down', '--name', LAB)
    dr('lab', 'up', '--name', LAB)
    dr('lab', 'stop-site', 'A', '--name', LAB)
    const load = os.loadavg()[0]
    const t0 = Date.now()
    const report = JSON.parse(dr('failover', '--site', 'B', '--yes', '--json', '-i', INVENTORY))
    const run: Run = { durationMs: report.durationMs, wallMs: Date.now() - t0, load, steps: report.steps }
    results.push(run)
    console.log(`run ${i}: recovery ${s(run.durationMs)} (dr process wall time ${s(run.wallMs)}; load average ${load.toFixed(1)})`)
  }
} finally {
  dr('lab', 'down', '--name', LAB)
}
const sorted = [...results].sort((a, b) => a.durationMs - b.durationMs)
const median = sorted[Math.floor(sorted.length / 2)]
const inSteps = median.steps.reduce((n, x) => n + x.durationMs, 0)
console.log(`\nbreakdown of the median run (${s(median.durationMs)}):`)
console.log(`  ${s(median.durationMs - inSteps).padStart(7)}  assessment, plan, and the checks between steps`)
for (const x of median.steps) if (x.durationMs > 0) console.log(`  ${s(x.durationMs).padStart(7)}  ${x.id}`)
console.log(
  `\nfailover recovery time, median of ${runs}: ${s(median.durationMs)} (min ${s(sorted[0].durationMs)}, max ${s(sorted[sorted.length - 1].durationMs)}); target ≤ ${TARGET_S} s: ${median.durationMs <= TARGET_S * 1000 ? 'met' : 'NOT met'}`,
)
console.log('floor: the lost site\'s hosts count as unreachable when ARP gives up (~3 s) or ssh.connectTimeoutMs runs out (5 s in the lab), plus one etcd election per re-creation: the forced one is tuned (< 1 s), the final one keeps the cluster\'s election timeout (0.5-5 s with ticks fast-forwarded)')
