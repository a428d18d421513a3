#!/usr/bin/env node
// Bundles the command into dist/ with esbuild (which tsx already brings), so `dr` starts without transpiling
// TypeScript on every run. bin/dr.js uses the bundle only while every source it was built from is unchanged
// (dist/inputs.json records their sizes and mtimes); otherwise it runs the sources through tsx. Run by `npm ci`
// (the prepare script) and by the scripts' install step.
//
// Pure-JavaScript dependencies are bundled too (commander, zod, zx, yaml, cockatiel…): loading them from
// node_modules file by file, and lexing the CommonJS ones for their export names when ESM imports them, was most of
// `dr status`'s start-up. What cannot be bundled stays in node_modules, listed in EXTERNAL with the reason.
// `--external-packages` builds the old way (every package external): scripts/bench cli compares the two.
import * as esbuild from 'esbuild'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const dist = path.join(root, 'dist')

// Code that finds files beside itself (lab fixtures, node files, package.json) keeps its own location: each
// module's import.meta.url is its source file's, not the chunk's.
const keepModuleUrl = {
  name: 'keep-module-url',
  setup(b) {
    b.onLoad({ filter: /\.(ts|mts|mjs|js)$/ }, async (args) => {
      if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined
      const text = await fs.promises.readFile(args.path, 'utf8')
      return { contents: text.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)), loader: /\.m?ts$/.test(args.path) ? 'ts' : 'js' }
    })
  },
}

/** Packages loaded from node_modules at run time, and why. */
const EXTERNAL = [
  // Reads proto/rpc.proto beside itself when loaded; brings @grpc/* and protobufjs (which requires optionally).
  'etcd3',
  '@grpc/*',
  'protobufjs',
  // ssh2's optional native helper (a compiled addon; ssh2 works without it). ssh2 itself is bundled.
  'cpu-features',
  // Large and loaded only by the S3 store: bundling would only lengthen the build. (@kubernetes/client-node is
  // bundled, into a chunk of its own loaded when first used: from node_modules it took 0.33 s to load here against
  // 0.1 s bundled, and a failover loads it on its critical path.)
  '@aws-sdk/*',
  // Build and development tools.
  'tsx',
  'esbuild',
]

// Loaded at start-up, dr uses zx's process runner only ($, quote: zx/core). The package's main entry adds zx's
// script goods (fetch, glob, minimist…, 20 000 lines of vendored code) and parses process.argv when loaded. So a
// static `import … from 'zx'` takes zx/core, and should a source import anything else that way, esbuild fails the
// build ("No matching export"). A dynamic import('zx') (dr run's argument parser) still gets the whole package.
const zxCoreAtStartup = {
  name: 'zx-core-at-startup',
  setup(b) {
    b.onResolve({ filter: /^zx$/ }, (args) =>
      args.kind === 'import-statement' ? b.resolve('zx/core', { kind: args.kind, resolveDir: args.resolveDir }) : undefined,
    )
  },
}

// zod exports its error messages in 63 languages (z.locales, 40% of its code); dr speaks English, which zod
// configures by itself, and never reads z.locales. The bundle's z.locales holds English only.
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, () => ({ contents: 'export { default as en } from "./en.js"\n', loader: 'js' }))
  },
}

// A bundled CommonJS module keeps its own __dirname and __filename (ssh2's poly1305 wasm loader and commander's
// subcommand lookup read them), and a native addon (.node) is required from where it is installed.
const packageFilesInPlace = {
  name: 'package-files-in-place',
  setup(b) {
    b.onResolve({ filter: /\.node$/ }, (args) => ({ path: path.resolve(args.resolveDir, args.path), external: true }))
    b.onLoad({ filter: /[\\/]node_modules[\\/].*\.c?js$/ }, async (args) => {
      const text = await fs.promises.readFile(args.path, 'utf8')
      if (!/\b__(dirname|filename)\b/.test(text)) return undefined
      const here = `var __filename = ${JSON.stringify(args.path)}, __dirname = ${JSON.stringify(path.dirname(args.path))};\n`
      return { contents: here + text, loader: 'js' }
    })
  },
}

const args = process.argv.slice(2)
const outIdx = args.indexOf('--outdir')
const outdir = outIdx >= 0 ? path.resolve(args[outIdx + 1]) : dist
const allExternal = args.includes('--external-packages')

const started = Date.now()
fs.rmSync(outdir, { recursive: true, force: true })
const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: ['src/cli/main.ts'],
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  ...(allExternal ? { packages: 'external' } : { external: EXTERNAL }),
  // Bundled CommonJS packages call require() for Node's built-ins; an ES module has no require of its own.
  banner: { js: "import { createRequire as __drCreateRequire } from 'node:module'; const require = __drCreateRequire(import.meta.url);" },
  outdir,
  sourcemap: 'linked',
  // Less for V8 to read at start-up; names and semantics stay as written.
  minifyWhitespace: true,
  metafile: true,
  plugins: allExternal ? [keepModuleUrl] : [keepModuleUrl, zxCoreAtStartup, zodEnglishOnly, packageFilesInPlace],
  logLevel: 'warning',
})
// The bundle is fresh while the project's sources and the installed packages are unchanged. npm rewrites
// node_modules/.package-lock.json on every install, so that one file stands for every bundled package (one stat at
// start-up instead of hundreds). Installed some other way (no such file), every bundled file is recorded.
const LOCK = 'node_modules/.package-lock.json'
const all = Object.keys(result.metafile.inputs)
const recorded = fs.existsSync(path.join(root, LOCK)) ? [...all.filter((f) => !/(^|\/)node_modules\//.test(f)), LOCK] : all
const inputs = {}
for (const f of recorded) {
  const st = fs.statSync(path.join(root, f))
  inputs[f] = [st.size, st.mtimeMs]
}
fs.writeFileSync(path.join(outdir, 'inputs.json'), JSON.stringify({ builtAt: new Date().toISOString(), inputs }))
if (!process.argv.includes('--quiet')) console.error(`dist/: ${Object.keys(inputs).length} sources bundled in ${Date.now() - started} ms`)
