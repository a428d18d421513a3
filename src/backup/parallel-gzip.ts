// gzip that keeps up with the snapshot stream: the input is cut into blocks, each block is compressed as a gzip
// member of its own on libuv's thread pool (several at once), and the members are written in order. A gzip file may
// hold several members one after another (RFC 1952 §2.2): `gzip -d`, zlib's gunzip and every other reader inflate
// them as one stream. Memory stays bounded: at most `parallel` blocks are in flight, and the transform's own
// backpressure holds the source while they are.
import { Transform, type TransformCallback } from 'node:stream'
import { promisify } from 'node:util'
import zlib from 'node:zlib'

const gzip = promisify(zlib.gzip)

export interface ParallelGzipOptions {
  level: number
  /** Bytes per gzip member (default 1 MiB: the size cost against one member is a fraction of a percent). */
  blockSize?: number
  /** Blocks compressed at once (default: libuv's thread pool size, 4). */
  parallel?: number
}

export class ParallelGzip extends Transform {
  private readonly level: number
  private readonly blockSize: number
  private readonly parallel: number
  private pending: Buffer[] = []
  private pendingBytes = 0
  /** Blocks being compressed, oldest first; each resolves to its member. */
  private inFlight: Promise<Buffer>[] = []

  constructor(opts: ParallelGzipOptions) {
    super({ readableHighWaterMark: 1 << 20 })
    this.level = opts.level
    this.blockSize = opts.blockSize ?? 1 << 20
    this.parallel = Math.max(1, opts.parallel ?? Number(process.env.UV_THREADPOOL_SIZE ?? 4))
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.pending.push(chunk)
    this.pendingBytes += chunk.length
    this.drainFull().then(() => cb(), cb)
  }

  override _flush(cb: TransformCallback): void {
    if (this.pendingBytes > 0) this.startBlock(this.takeBlock(this.pendingBytes))
    this.writeAll().then(() => cb(), cb)
  }

  /** Start a block for every full block pending; wait for the oldest whenever `parallel` are in flight. */
  private async drainFull(): Promise<void> {
    while (this.pendingBytes >= this.blockSize) {
      this.startBlock(this.takeBlock(this.blockSize))
      if (this.inFlight.length >= this.parallel) this.push(await this.inFlight.shift()!)
    }
  }

  private async writeAll(): Promise<void> {
    while (this.inFlight.length > 0) this.push(await this.inFlight.shift()!)
  }

  private startBlock(block: Buffer): void {
    const member = gzip(block, { level: this.level })
    // Rejections are awaited in order by drainFull/writeAll; this only keeps an early one from being "unhandled".
    member.catch(() => undefined)
    this.inFlight.push(member)
  }

  private takeBlock(n: number): Buffer {
    const all = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending)
    const block = all.subarray(0, n)
    const rest = all.subarray(n)
    this.pending = rest.length ? [rest] : []
    this.pendingBytes = rest.length
    return block
  }
}
