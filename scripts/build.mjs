#!/usr/bin/env node
// Bundles the command into dist/ with esbuild (which tsx already brings), so `dr` starts without transpiling
// TypeScript on every run. bin/dr.js uses the bundle only while every source it was built from is unchanged
// (dist/inputs.json records their sizes and mtimes); otherwise it runs the sources through tsx. Run by `npm ci`
// (the prepare script) and by the scripts' install step.
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

const started = Date.now()
fs.rmSync(dist, { recursive: true, force: true })
const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: ['src/cli/main.ts'],
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  outdir: dist,
  sourcemap: 'linked',
  metafile: true,
  plugins: [keepModuleUrl],
  logLevel: 'warning',
})
const inputs = {}
for (const f of Object.keys(result.metafile.inputs)) {
  const st = fs.statSync(path.join(root, f))
  inputs[f] = [st.size, st.mtimeMs]
}
fs.writeFileSync(path.join(dist, 'inputs.json'), JSON.stringify({ builtAt: new Date().toISOString(), inputs }))
if (!process.argv.includes('--quiet')) console.error(`dist/: ${Object.keys(inputs).length} sources bundled in ${Date.now() - started} ms`)
