// ParallelGzip: members in order, readable by zlib and by the gzip command, whatever the chunking.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import crypto from 'node:crypto'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import zlib from 'node:zlib'
import { ParallelGzip } from '../../src/backup/parallel-gzip.ts'

async function compress(input: Buffer, chunk: number, opts: { blockSize?: number; parallel?: number } = {}): Promise<Buffer> {
  const parts: Buffer[] = []
  for (let i = 0; i < input.length; i += chunk) parts.push(input.subarray(i, i + chunk))
  const out: Buffer[] = []
  await pipeline(Readable.from(parts), new ParallelGzip({ level: 1, ...opts }), async function* (src) {
    for await (const b of src) out.push(b as Buffer)
  })
  return Buffer.concat(out)
}

// Half random (incompressible), half repetitive (etcd's keys and JSON values look like this).
const sample = (n: number) => Buffer.concat([crypto.randomBytes(n / 2), Buffer.from('/registry/pods/default/hello-world-'.repeat(n / 70)).subarray(0, n / 2)])

t.test('many members, in order: zlib and gzip -d give the input back', async (t) => {
  const input = sample(5 * 1024 * 1024 + 12345)
  const gz = await compress(input, 32 * 1024, { blockSize: 256 * 1024, parallel: 3 })
  const members = gz.reduce((n, _b, i) => n + (gz[i] === 0x1f && gz[i + 1] === 0x8b && gz[i + 2] === 8 ? 1 : 0), 0)
  t.ok(members >= 21, `several gzip members (${members} headers seen)`)
  t.ok(zlib.gunzipSync(gz).equals(input), 'zlib inflates every member, in order')
  t.ok(execFileSync('gzip', ['-dc'], { input: gz, maxBuffer: 64 << 20 }).equals(input), 'gzip -d reads it')
  t.ok(gz.length < input.length * 0.75, 'it compresses')
})

t.test('input smaller than a block, an empty input, odd chunk sizes', async (t) => {
  const small = sample(1000)
  t.ok(zlib.gunzipSync(await compress(small, 7)).equals(small))
  const odd = sample(3 * 1024 * 1024)
  t.ok(zlib.gunzipSync(await compress(odd, 99_991, { blockSize: 1 << 20 })).equals(odd))
  const empty = await compress(Buffer.alloc(0), 10)
  t.equal(empty.length, 0, 'nothing in, nothing out')
})
