// The backup pipeline holds a bounded amount whatever the snapshot's size: with the store stalled, the snapshot
// stops being read after a few MiB (src/backup/stage.ts: 64 KiB per stage, plus the compressor's reused blocks),
// and stays stopped. A stage that ignored backpressure would read the whole endless source; deeper stage queues
// would read more before stopping.
import t from 'tap'
import crypto from 'node:crypto'
import { Readable, Writable } from 'node:stream'
import { generateIdentity, identityToRecipient } from 'age-encryption'
import { encodeSnapshot } from '../../src/backup/pipeline.ts'
import { COMPRESSIONS } from '../../src/backup/codec.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

for (const compression of COMPRESSIONS) {
  t.test(`${compression}: a stalled store stops the snapshot after a few MiB`, { timeout: 60_000 }, async (t) => {
    // Hex text in the snapshot's 32 KiB messages, without end; a fresh buffer each time, as gRPC gives them.
    let read = 0
    const source = new Readable({
      highWaterMark: 64 << 10,
      read() {
        read += 32 << 10
        this.push(Buffer.from(crypto.randomBytes(16 << 10).toString('hex')))
      },
    })
    let stored = 0
    let release!: () => void
    const stalled = new Promise<void>((r) => (release = r))
    const sink = new Writable({
      highWaterMark: 64 << 10,
      write(c: Buffer, _e, cb) {
        stored += c.length
        stalled.then(() => cb()) // the store takes the first write and then never answers
      },
    })
    const ac = new AbortController()
    const done = encodeSnapshot(source, sink, { recipients: [await identityToRecipient(await generateIdentity())], compression, signal: ac.signal })
    done.catch(() => undefined)
    // Wait until reading has stopped: unchanged for half a second.
    let last = -1
    for (let i = 0; i < 40 && read !== last; i++) {
      last = read
      await sleep(500)
    }
    t.equal(read, last, `the snapshot stopped being read (${(read / 2 ** 20).toFixed(1)} MiB read)`)
    t.ok(stored > 0, 'the store got the first bytes')
    // Measured: brotli 4.1 MiB, gzip 5.1, none 0.3; with 1 MiB per stage they were 8.1, 7.1 and 1.3.
    const bound = compression === 'none' ? 1 : 6
    t.ok(read < bound * 2 ** 20, `less than ${bound} MiB held between the snapshot and the stalled store (${(read / 2 ** 20).toFixed(1)} MiB)`)
    ac.abort()
    release()
  })
}
