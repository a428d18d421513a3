// Lab timings, printed (no pass/fail): cold `lab up` (every dr-lab image removed; the debootstrap rootfs tarball in
// .lab-cache/ is kept, set BENCH_LAB_SCRATCH=1 to remove it too), warm `lab up` (images cached, new containers),
// a second `lab up` of the running lab, and `lab down`. Runs on its own lab (`--name lab-bench`) so the shared
// `lab` keeps running.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..')
const NAME = 'lab-bench'

function timed(label: string, argv: string[]): number {
  const started = Date.now()
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/dr.js'), ...argv], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CI: 'true' } })
  const s = (Date.now() - started) / 1000
  if (r.status !== 0) {
    process.stderr.write(r.stderr)
    throw new Error(`${argv.join(' ')} exited ${r.status}`)
  }
  console.log(`${label.padEnd(34)} ${s.toFixed(1).padStart(6)} s`)
  return s
}

function removeImages() {
  const refs = spawnSync('docker', ['images', '--format', '{{.Repository}}:{{.Tag}}'], { encoding: 'utf8' })
    .stdout.split('\n').filter((l) => l.startsWith('dr-lab/'))
  // -f untags images that running labs still use; their containers keep running.
  if (refs.length) spawnSync('docker', ['rmi', '-f', ...refs], { stdio: 'ignore' })
  const cache = path.join(ROOT, '.lab-cache')
  for (const f of fs.existsSync(cache) ? fs.readdirSync(cache) : []) {
    if (f.startsWith('inner-') || (process.env.BENCH_LAB_SCRATCH === '1' && f.startsWith('node-rootfs-'))) fs.rmSync(path.join(cache, f), { force: true })
  }
  return refs.length
}

timed('lab down (clean start)', ['lab', 'down', '--name', NAME])
const removed = removeImages()
console.log(`removed ${removed} dr-lab images${process.env.BENCH_LAB_SCRATCH === '1' ? ' and the rootfs tarball' : ' (rootfs tarball kept)'}`)
timed('cold lab up (no images)', ['lab', 'up', '--name', NAME])
timed('lab down', ['lab', 'down', '--name', NAME])
timed('warm lab up (images cached)', ['lab', 'up', '--name', NAME])
timed('lab up again (running lab)', ['lab', 'up', '--name', NAME])
timed('lab down', ['lab', 'down', '--name', NAME])
