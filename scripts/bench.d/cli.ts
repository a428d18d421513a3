// Start-up of the command (issue 14, aim 5: `dr --help` and `dr status --json` under 0.25 s before their first
// network call). Runs the bundle (dist/, what `npm ci` builds) against the sources through tsx (DR_NO_BUNDLE=1) in
// alternating pairs, and prints medians and spread. `status` uses an inventory whose only host is 127.0.0.1 on a
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

function time(args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = process.hrtime.bigint()
  spawnSync(process.execPath, [DR, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: 'ignore' })
  return Number(process.hrtime.bigint() - t0) / 1e6
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const spread = (xs: number[]) => `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))} ms`

for (const [label, args] of [
  ['dr --help', ['--help']],
  ['dr status --json (until the first connection is refused)', ['status', '--json', '-i', path.join(dir, 'inv.yaml')]],
] as const) {
  const bundle: number[] = []
  const tsx: number[] = []
  time([...args], {}) // warm the page cache and tsx's cache
  time([...args], { DR_NO_BUNDLE: '1' })
  for (let i = 0; i < RUNS; i++) {
    bundle.push(time([...args], {}))
    tsx.push(time([...args], { DR_NO_BUNDLE: '1' }))
  }
  const b = median(bundle)
  const s = median(tsx)
  console.log(`${label}:`)
  console.log(`  bundle (dist/):   median ${Math.round(b)} ms (${spread(bundle)}, ${RUNS} runs)   target ≤ ${TARGET_MS} ms: ${b <= TARGET_MS ? 'met' : 'NOT met'}`)
  console.log(`  sources via tsx:  median ${Math.round(s)} ms (${spread(tsx)})   bundle/tsx ${(b / s).toFixed(2)}`)
}
fs.rmSync(dir, { recursive: true, force: true })
