// Pass-through transforms that measure what flows through them: size and sha256, and for a raw etcd snapshot
// the check etcd itself appends (the last 32 bytes are the sha256 of everything before them).
import { createHash } from 'node:crypto'
import { Transform } from 'node:stream'

export interface Digest {
  size: number
  sha256: string
}

export class DigestStream extends Transform {
  private readonly hash = createHash('sha256')
  size = 0
  private result?: Digest
  _transform(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null, d?: Buffer) => void) {
    this.hash.update(chunk)
    this.size += chunk.length
    cb(null, chunk)
  }
  _flush(cb: (e?: Error | null) => void) {
    this.result = { size: this.size, sha256: this.hash.digest('hex') }
    cb()
  }
  /** Available once the stream has ended. */
  digest(): Digest {
    if (!this.result) throw new Error('digest read before the stream ended')
    return this.result
  }
}

const TRAILER = 32

/**
 * DigestStream that also checks etcd's sha256 trailer (a snapshot from the Snapshot RPC always carries one). One
 * hash does both: everything but the last 32 bytes goes in; at the end a copy of it is the body's digest, and the
 * original, given the trailer too, the whole snapshot's (hashing the snapshot twice cost a tenth of the pipeline's
 * CPU).
 */
export class SnapshotDigestStream extends Transform {
  private readonly hash = createHash('sha256')
  size = 0
  /** The last bytes seen (at most 32): the trailer once the stream ends. */
  private tail = Buffer.alloc(0)
  private result?: Digest
  private trailerOk?: boolean
  _transform(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null, d?: Buffer) => void) {
    this.size += chunk.length
    // Hashes the chunk in place: only the 32 bytes held back are ever copied, never the chunk itself.
    if (chunk.length >= TRAILER) {
      if (this.tail.length) this.hash.update(this.tail)
      this.hash.update(chunk.subarray(0, chunk.length - TRAILER))
      this.tail = Buffer.from(chunk.subarray(chunk.length - TRAILER))
    } else {
      const all = Buffer.concat([this.tail, chunk])
      const cut = Math.max(0, all.length - TRAILER)
      if (cut > 0) this.hash.update(all.subarray(0, cut))
      this.tail = all.subarray(cut)
    }
    cb(null, chunk)
  }
  _flush(cb: (e?: Error | null) => void) {
    this.trailerOk = this.tail.length === TRAILER && this.hash.copy().digest().equals(this.tail)
    this.result = { size: this.size, sha256: this.hash.update(this.tail).digest('hex') }
    cb()
  }
  /** Available once the stream has ended. */
  digest(): Digest {
    if (!this.result) throw new Error('digest read before the stream ended')
    return this.result
  }
  /** true when the last 32 bytes are the sha256 of the rest (etcd's own integrity check). */
  trailerValid(): boolean {
    if (this.trailerOk === undefined) throw new Error('trailer read before the stream ended')
    return this.trailerOk
  }
}
