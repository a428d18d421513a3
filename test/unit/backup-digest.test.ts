// SnapshotDigestStream: etcd's sha256 trailer is checked whatever the chunking (chunks shorter than the trailer,
// a trailer split across chunks), the bytes pass through unchanged, and a damaged body or trailer is caught.
import t from 'tap'
import crypto from 'node:crypto'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { SnapshotDigestStream } from '../../src/backup/digest.ts'

/** What the Snapshot RPC sends: the database, then the sha256 of it. */
function snapshot(bodySize: number): Buffer {
  const body = crypto.randomBytes(bodySize)
  return Buffer.concat([body, crypto.createHash('sha256').update(body).digest()])
}

async function check(data: Buffer, sizes: number[]): Promise<{ valid: boolean; out: Buffer; size: number; sha256: string }> {
  const parts: Buffer[] = []
  for (let i = 0, k = 0; i < data.length; k++) {
    const n = sizes[k % sizes.length]
    parts.push(data.subarray(i, i + n))
    i += n
  }
  const d = new SnapshotDigestStream()
  const out: Buffer[] = []
  await pipeline(Readable.from(parts), d, new Writable({ write: (c, _e, cb) => (out.push(c), cb()) }))
  return { valid: d.trailerValid(), out: Buffer.concat(out), ...d.digest() }
}

t.test('a whole snapshot is valid, however it is cut', async (t) => {
  const snap = snapshot(100_000)
  const sha = crypto.createHash('sha256').update(snap).digest('hex')
  for (const sizes of [[32 * 1024], [1], [31], [32], [33], [7, 50_000, 3, 31, 1], [snap.length], [snap.length - 16, 16], [snap.length - 40, 20, 20]]) {
    const r = await check(snap, sizes)
    t.ok(r.valid, `chunks of ${sizes.join(',')}: trailer valid`)
    t.ok(r.out.equals(snap), `chunks of ${sizes.join(',')}: bytes pass through unchanged`)
    t.equal(r.size, snap.length)
    t.equal(r.sha256, sha, 'sha256 of everything, trailer included')
  }
})

t.test('a damaged body, a damaged trailer, a cut snapshot, an empty one: not valid', async (t) => {
  const snap = snapshot(70_000)
  for (const at of [0, 40_000, snap.length - 33, snap.length - 32, snap.length - 1]) {
    const bad = Buffer.from(snap)
    bad[at] ^= 0xff
    t.notOk((await check(bad, [32 * 1024])).valid, `byte ${at} flipped`)
    t.notOk((await check(bad, [13])).valid, `byte ${at} flipped, small chunks`)
  }
  t.notOk((await check(snap.subarray(0, snap.length - 1000), [32 * 1024])).valid, 'cut short')
  t.notOk((await check(snap.subarray(0, 20), [5])).valid, 'shorter than a trailer')
  t.notOk((await check(Buffer.alloc(0), [1])).valid, 'empty')
})
