// The backup codecs (src/backup/codec.ts): brotli fed whole blocks, gzip in members, none; each gives the input
// back through node and through its own command, with a slow consumer downstream (backpressure) and at the end of
// a stream that ends mid-block.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import crypto from 'node:crypto'
import { PassThrough, Readable, Transform, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { Blocked, compressor, decompressor, COMPRESSIONS } from '../../src/backup/codec.ts'

/** What reads each codec's output by hand. */
const decompressCommand = { brotli: 'brotli -d', gzip: 'gzip -d', none: 'cat' } as const

// Hex text (compresses about 2:1) then repetitive key-like text, cut in the snapshot's 32 KiB messages.
const sample = (n: number) => Buffer.concat([Buffer.from(crypto.randomBytes(n / 4).toString('hex')), Buffer.from('/registry/pods/default/web-'.repeat(n / 54)).subarray(0, n / 2)])
const parts = (b: Buffer, n = 32 << 10) => Array.from({ length: Math.ceil(b.length / n) }, (_, i) => b.subarray(i * n, (i + 1) * n))

/** Through a stage into a consumer that takes a millisecond per 16 KiB: the stage's output side is full most of the time. */
async function through(stage: NodeJS.ReadWriteStream | undefined, input: Buffer[], slow = true): Promise<Buffer> {
  const out: Buffer[] = []
  const sink = new Writable({
    highWaterMark: 16 << 10,
    write(c: Buffer, _e, cb) {
      out.push(c)
      slow ? setTimeout(cb, 1) : cb()
    },
  })
  await pipeline([Readable.from(input), ...(stage ? [stage] : []), sink] as never)
  return Buffer.concat(out)
}

for (const c of COMPRESSIONS) {
  t.test(`${c}: node and \`${decompressCommand[c]}\` give the input back, with a slow consumer`, { timeout: 60_000 }, async (t) => {
    const input = sample(12 * 1024 * 1024 + 4321) // six brotli blocks and a part one
    const stored = await through(compressor(c), parts(input))
    if (c !== 'none') t.ok(stored.length < input.length * 0.6, `${c} compresses (${stored.length} of ${input.length} bytes)`)
    t.ok((await through(decompressor(c), parts(stored, 64 << 10), false)).equals(input), 'node decompresses it')
    const [cmd, ...args] = decompressCommand[c].split(' ')
    t.ok(execFileSync(cmd, args, { input: stored, maxBuffer: 64 << 20 }).equals(input), `${decompressCommand[c]} reads it`)
  })
}

t.test('brotli: empty input, and input smaller than a block', async (t) => {
  for (const input of [Buffer.alloc(0), sample(1000)]) {
    const stored = await through(compressor('brotli'), parts(input), false)
    t.ok(execFileSync('brotli', ['-d'], { input: stored }).equals(input), `${input.length} bytes`)
  }
})

t.test('brotli is written to zlib in whole blocks, not in the 32 KiB messages it gets', async (t) => {
  const writes: number[] = []
  // zlib copies what it is given before the write completes, as this stand-in does: the block buffers are reused.
  const inner = new Transform({ transform: (c: Buffer, _e, cb) => cb(null, Buffer.from(c)) })
  const realWrite = inner.write.bind(inner)
  inner.write = ((b: Buffer, cb: (e?: Error | null) => void) => (writes.push(b.length), realWrite(b, cb))) as typeof inner.write
  const input = sample(5 * 1024 * 1024)
  t.ok((await through(new Blocked(inner, 1 << 20), parts(input))).equals(input), 'every byte through, in order')
  t.same(writes, [1 << 20, 1 << 20, 1 << 20, 1 << 20, input.length - (4 << 20)], `four 1 MiB writes and the rest (${input.length} bytes in all)`)
})

t.test('an error inside the codec fails the pipeline instead of hanging it', async (t) => {
  const inner = new PassThrough()
  const stage = new Blocked(inner, 1 << 20)
  setTimeout(() => inner.destroy(new Error('zlib broke')), 20)
  const input = Readable.from((function* () {
    for (;;) yield Buffer.alloc(32 << 10, 1)
  })())
  await t.rejects(pipeline(input, stage, new Writable({ write: (_c, _e, cb) => setTimeout(cb, 1) })), /zlib broke/)
})
