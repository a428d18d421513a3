// gzip that keeps up with the snapshot stream: the input is cut into blocks, each block is compressed as a gzip
// member of its own on libuv's thread pool (several at once), and the members are written in order. A gzip file may
// hold several members one after another (RFC 1952 §2.2): `gzip -d`, zlib's gunzip and every other reader inflate
// them as one stream. Memory stays bounded: at most `parallel` blocks are in flight, and the transform's own
// backpressure holds the source while they are.
import os from 'node:os'
import { Transform, type TransformCallback } from 'node:stream'
import { promisify } from 'node:util'
import zlib from 'node:zlib'
import { ByteQueue } from './byte-queue.ts'
import { STAGE_BYTES } from './stage.ts'

const gzip = promisify(zlib.gzip)

export interface ParallelGzipOptions {
  level: number
  /** Bytes per gzip member (default 1 MiB: the size cost against one member is a fraction of a percent). */
  blockSize?: number
  /** Blocks compressed at once (default: libuv's thread pool size, 4, but no more than the CPUs: more blocks in
   * flight would only hold more memory). */
  parallel?: number
}

export class ParallelGzip extends Transform {
  private readonly level: number
  private readonly blockSize: number
  private readonly parallel: number
  private readonly pending = new ByteQueue()
  /** Blocks being compressed, oldest first; each resolves to its member. */
  private inFlight: Promise<Buffer>[] = []
  /** Block buffers whose compression has finished, reused for the next blocks: no new 1 MiB per block. */
  private free: Buffer[] = []

  constructor(opts: ParallelGzipOptions) {
    super({ readableHighWaterMark: STAGE_BYTES })
    this.level = opts.level
    this.blockSize = opts.blockSize ?? 1 << 20
    this.parallel = Math.max(1, opts.parallel ?? Math.min(Number(process.env.UV_THREADPOOL_SIZE ?? 4), os.availableParallelism()))
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.pending.add(chunk)
    this.drainFull().then(() => cb(), cb)
  }

  override _flush(cb: TransformCallback): void {
    if (this.pending.bytes > 0) this.startBlock(this.takeBlock(this.pending.bytes))
    this.writeAll().then(() => cb(), cb)
  }

  /** Start a block for every full block pending; wait for the oldest whenever `parallel` are in flight. */
  private async drainFull(): Promise<void> {
    while (this.pending.bytes >= this.blockSize) {
      this.startBlock(this.takeBlock(this.blockSize))
      if (this.inFlight.length >= this.parallel) this.push(await this.inFlight.shift()!)
    }
  }

  private async writeAll(): Promise<void> {
    while (this.inFlight.length > 0) this.push(await this.inFlight.shift()!)
  }

  private startBlock([whole, block]: [Buffer, Buffer]): void {
    // zlib's default 16 KiB output chunk costs a trip through the main thread per 16 KiB, and a copy to join them;
    // 256 KiB held most members whole (10–15% less CPU for the same bytes) but raised the pipeline's peak RSS from
    // about 133 to 148–156 MiB (off-heap garbage waits for a full GC); 64 KiB: 136 MiB, a quarter of the trips.
    const member = gzip(block, { level: this.level, chunkSize: 64 << 10 })
    // The buffer is free again once zlib is done with it, whatever the outcome.
    void member.then(
      () => this.free.push(whole),
      () => undefined, // awaited in order by drainFull/writeAll; this only keeps an early one from being "unhandled"
    )
    this.inFlight.push(member)
  }

  /** The next `n` pending bytes, copied into a free block buffer: [the whole buffer, the block in it]. */
  private takeBlock(n: number): [Buffer, Buffer] {
    const whole = this.free.pop() ?? Buffer.allocUnsafe(Math.max(n, this.blockSize))
    return [whole, this.pending.fill(whole.subarray(0, n))]
  }
}
