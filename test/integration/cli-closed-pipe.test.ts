// A reader that leaves (`dr --help | head -1`) must not crash dr with an unhandled EPIPE: output to the closed pipe
// is dropped and dr ends as it would have.
import { spawn } from 'node:child_process'
import path from 'node:path'
import t from 'tap'

const DR = path.resolve(import.meta.dirname, '../../bin/dr.js')

t.test('dr --help into a pipe whose reader closed at once: exit 0, no crash', async (t) => {
  const child = spawn(process.execPath, [DR, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout.destroy() // the reader goes away before dr writes anything
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)))
  t.equal(code, 0, stderr)
  t.notMatch(stderr, /EPIPE|Unhandled/, 'no crash report')
})
