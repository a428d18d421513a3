// Recovery time of `dr failover --site B` on the lab: several runs, each on a fresh lab with site A stopped.
// Prints each run's time, per-step times, and the median. Figures only; nothing is asserted.
import { spawnSync } from 'node:child_process'
import path from 'node:path'

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..')
const DR = path.join(ROOT, 'bin/dr.js')
const runs = Number(process.env.BENCH_RUNS ?? 3)

function dr(...args: string[]) {
  const r = spawnSync(process.execPath, [DR, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CI: 'true' }, maxBuffer: 64 << 20 })
  if (r.status !== 0) throw new Error(`dr ${args.join(' ')} failed (${r.status}):\n${r.stderr}`)
  return r.stdout
}

const times: number[] = []
for (let i = 1; i <= runs; i++) {
  dr('lab', 'down')
  dr('lab', 'up')
  spawnSync('docker', ['exec', 'dr-lab-master1', 'docker', 'exec', 'etcd', 'sh', '-c', 'for i in $(seq 1 500); do etcdctl put /registry/bench/k$i v$i >/dev/null; done'])
  dr('lab', 'stop-site', 'A')
  const t0 = Date.now()
  const report = JSON.parse(dr('failover', '--site', 'B', '--yes', '--json'))
  const wall = Date.now() - t0
  times.push(report.durationMs)
  console.log(`run ${i}: recovery ${(report.durationMs / 1000).toFixed(1)} s (dr process wall time ${(wall / 1000).toFixed(1)} s)`)
  for (const s of report.steps) console.log(`    ${(s.durationMs / 1000).toFixed(1).padStart(5)} s  ${s.id}`)
}
times.sort((a, b) => a - b)
console.log(`failover recovery time, median of ${runs}: ${(times[Math.floor(runs / 2)] / 1000).toFixed(1)} s (min ${(times[0] / 1000).toFixed(1)} s, max ${(times[runs - 1] / 1000).toFixed(1)} s); floor ≈ one etcd election (5 s) per re-creation`)
