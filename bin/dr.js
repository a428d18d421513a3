#!/usr/bin/env -S MALLOC_ARENA_MAX=1 node --max-semi-space-size=1
// --max-semi-space-size=1 (MiB; V8's default grows to 16): dr streams snapshots in chunks whose Buffers are freed
// only when the small objects holding them are collected. A small young generation collects them every few
// chunks instead of every few dozen: the raw snapshot's peak RSS is 93-105 MiB with it, 135-169 without, against
// the 120 MiB aimed at. Since each pipeline stage holds 64 KiB (src/backup/stage.ts) it costs the full backup
// (brotli, age, SFTP) little: on Kubernetes-shaped data 4.4-4.5 CPU-s against 4.0-4.3 with V8's default, on hex
// text no difference past the noise, for 112-119 MiB of peak RSS against 143-147 (alternating runs of
// scripts/bench backup's children, and DR_BENCH_NODE_FLAGS=--max-semi-space-size=16 for V8's default).
// MALLOC_ARENA_MAX=1: glibc gives each thread that allocates its own malloc arena, and memory freed in one is not
// reused by the others; a backup allocates on the main thread, libuv's pool (brotli, file writes) and V8's helpers.
// One arena, in 7-8 alternating runs of scripts/bench backup's children (hex text): peak RSS 90-103 MiB for the raw
// snapshot against 96-111, 106-113 for the full pipeline against 112-128; the pipeline's median 4.34 s against
// 4.15 s, within the spread of either (3.8-4.6 s).
// scripts/bench backup and a scheduled backup run node as this line does; `node bin/dr.js` skips it.
// The `dr` command. Runs the bundle in dist/ (scripts/build.mjs, run by `npm ci`) while every source it was
// built from is unchanged; otherwise the TypeScript sources through tsx, so an edited checkout needs no build.
import fs from 'node:fs'

const root = new URL('../', import.meta.url)

function bundleIsFresh() {
  let manifest
  try {
    manifest = JSON.parse(fs.readFileSync(new URL('dist/inputs.json', root), 'utf8'))
  } catch {
    return false // no bundle built: the sources are the truth
  }
  for (const [file, [size, mtime]] of Object.entries(manifest.inputs)) {
    const st = fs.statSync(new URL(file, root), { throwIfNoEntry: false })
    if (!st || st.size !== size || st.mtimeMs !== mtime) return false
  }
  return true
}

let main
if (process.env.DR_NO_BUNDLE !== '1' && bundleIsFresh()) {
  ;({ main } = await import('../dist/main.js'))
} else {
  const { register } = await import('tsx/esm/api')
  register()
  ;({ main } = await import('../src/cli/main.ts'))
}
await main(process.argv)
