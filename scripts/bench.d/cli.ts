// Start-up of the command (issue 14, aim 5: `dr --help` and `dr status --json` under 0.25 s before their first
// network call). Runs the bundle (dist/, what `npm ci` builds, dependencies bundled in), the same sources bundled
// with every package left in node_modules (how dist/ was built before), and the sources through tsx (DR_NO_BUNDLE=1),
// in alternating rounds, and prints medians, spread and ratios. `status` uses an inventory whose only host is 127.0.0.1 on a
// closed port: the first network call is refused at once, so the time is start-up up to that call. Figures only.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..')
const DR = path.join(ROOT, 'bin/dr.js')
const RUNS = Number(process.env.BENCH_RUNS ?? 11)
const TARGET_MS = 250

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-bench-cli-'))
spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'key')])
fs.writeFileSync(path.join(dir, 'known_hosts'), '')
fs.writeFileSync(
  path.join(dir, 'inv.yaml'),
  `cluster: bench
flavor: rke
ssh: { user: root, port: 1, identityFile: key, knownHosts: known_hosts }
sites:
  A: { hosts: [m1] }
hosts:
  m1: { address: 127.0.0.1, roles: [etcd, controlplane] }
stateDir: state
`,
)

spawnSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs'), '--quiet'], { stdio: 'inherit' })
const EXTERNAL_DIST = path.join(ROOT, '.dr/bench/dist-external')
spawnSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs'), '--quiet', '--external-packages', '--outdir', EXTERNAL_DIST], { stdio: 'inherit' })
// bin/dr.js without its freshness check, for the other bundle.
fs.writeFileSync(path.join(EXTERNAL_DIST, 'dr.mjs'), "const { main } = await import('./main.js')\nawait main(process.argv)\n")

type Variant = { label: string; script: string; env: NodeJS.ProcessEnv }
const VARIANTS: Variant[] = [
  { label: 'bundle (dist/)', script: DR, env: {} },
  { label: 'packages external', script: path.join(EXTERNAL_DIST, 'dr.mjs'), env: {} },
  { label: 'sources via tsx', script: DR, env: { DR_NO_BUNDLE: '1' } },
]

function time(v: Variant, args: string[]): number {
  const t0 = process.hrtime.bigint()
  const r = spawnSync(process.execPath, [v.script, ...args], { cwd: ROOT, env: { ...process.env, ...v.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  // Every variant must do the same thing: a refused connection (exit 5) for status, usage (exit 0) for --help.
  if (r.status !== (args[0] === 'status' ? 5 : 0)) throw new Error(`${v.label} ${args.join(' ')}: exit ${r.status}\n${r.stderr}`)
  return ms
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const spread = (xs: number[]) => `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))} ms`

for (const [label, args] of [
  ['dr --help', ['--help']],
  ['dr status --json (until the first connection is refused)', ['status', '--json', '-i', path.join(dir, 'inv.yaml')]],
] as const) {
  const runs = VARIANTS.map(() => [] as number[])
  for (const v of VARIANTS) time(v, [...args]) // warm the page cache and tsx's cache
  for (let i = 0; i < RUNS; i++) VARIANTS.forEach((v, j) => runs[j].push(time(v, [...args])))
  const b = median(runs[0])
  console.log(`${label}:`)
  VARIANTS.forEach((v, j) => {
    const m = median(runs[j])
    const verdict = j === 0 ? `   target ≤ ${TARGET_MS} ms: ${b <= TARGET_MS ? 'met' : 'NOT met'}` : `   dist/ takes ${(b / m).toFixed(2)}× this`
    console.log(`  ${(v.label + ':').padEnd(20)} median ${String(Math.round(m)).padStart(4)} ms (${spread(runs[j])}, ${RUNS} runs)${verdict}`)
  })
}
console.log(`load average (1, 5, 15 min): ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}, ${os.cpus().length} cores`)
fs.rmSync(dir, { recursive: true, force: true })
