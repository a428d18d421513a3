// How a snapshot is compressed before it is encrypted and stored. Each codec is a stream both ways, named in the
// payload's name and in its metadata record, so a backup says how to read it back.
//
// brotli (the default) at quality 1: on the bench's snapshots (`scripts/bench backup`, the "compression" line) it
// compresses 2–4× faster per CPU-second than gzip level 1 and stores fewer bytes (Kubernetes-shaped data: 306–349
// against 144–152 MiB/CPU-s, 21% against 25% of the size; hex text: 172 against 45, 50% against 54%), so one stream
// on one of libuv's threads nearly keeps up with the snapshot. It is in node's zlib; `brotli -d` (Debian's `brotli`
// package) reads it by hand. brotli carries no checksum: the stored object's and the snapshot's sha256 in the
// metadata (and etcd's own trailer) are what `verify` checks. gzip stays for stores read by tools that only know
// gzip: level 1 in 1 MiB members on several threads (parallel-gzip.ts), which `gzip -d` reads.
import { Transform, type TransformCallback } from 'node:stream'
import zlib from 'node:zlib'
import { ByteQueue } from './byte-queue.ts'
import { ParallelGzip } from './parallel-gzip.ts'
import { STAGE_BYTES } from './stage.ts'

export const COMPRESSIONS = ['brotli', 'gzip', 'none'] as const
export type Compression = (typeof COMPRESSIONS)[number]
export const DEFAULT_COMPRESSION: Compression = 'brotli'

/** The payload name's suffix for each codec (before `.age`). */
export const COMPRESSION_SUFFIX: Record<Compression, string> = { brotli: '.br', gzip: '.gz', none: '' }

const BROTLI_QUALITY = 1
const GZIP_LEVEL = 1
/** brotli's writes: 2 MiB took 80% of the CPU of 1 MiB on Kubernetes-shaped data, 4 MiB 75%, sizes alike. */
const BROTLI_BLOCK = 2 << 20

/** zlib's default 16 KiB output chunks cost a trip through the main thread each; 64 KiB is a quarter of them. */
const CHUNK = 64 << 10

/** A compressing stage, or none for 'none'. */
export function compressor(c: Compression): Transform | undefined {
  if (c === 'none') return undefined
  if (c === 'gzip') return new ParallelGzip({ level: GZIP_LEVEL })
  const brotli = zlib.createBrotliCompress({
    chunkSize: CHUNK,
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
      // A 4 MiB window (brotli's default, 22 bits): what a decoder must hold, and no more.
      [zlib.constants.BROTLI_PARAM_LGWIN]: 22,
    },
  })
  return new Blocked(brotli, BROTLI_BLOCK)
}

/**
 * A zlib stream fed whole blocks. brotli's fast qualities (0, 1) compress each write on its own: fed the snapshot's
 * 32 KiB messages, quality 1 took twice the CPU of 1 MiB writes and stored 26% of the Kubernetes-shaped snapshot
 * instead of 21%. Two block buffers are reused: one filling while zlib compresses the other on libuv's pool.
 */
export class Blocked extends Transform {
  private readonly pending = new ByteQueue()
  private free: Buffer[] = []
  private inFlight: Promise<void>[] = []

  constructor(
    private readonly inner: Transform,
    private readonly blockSize = 1 << 20,
  ) {
    super({ readableHighWaterMark: STAGE_BYTES })
    inner.on('data', (d: Buffer) => {
      if (!this.push(d)) inner.pause()
    })
    inner.on('error', (e) => this.destroy(e))
  }

  override _read(size: number): void {
    this.inner.resume()
    super._read(size) // Transform's own: releases a write held while this side was full
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.pending.add(chunk)
    this.feed(false).then(() => cb(), cb)
  }

  override _flush(cb: TransformCallback): void {
    this.feed(true)
      .then(() => Promise.all(this.inFlight))
      .then(() => {
        this.inner.once('end', () => cb())
        this.inner.end()
      }, cb)
  }

  override _destroy(e: Error | null, cb: (e: Error | null) => void): void {
    this.inner.destroy()
    cb(e)
  }

  /** Write every full block (and the rest, at the end); wait whenever two are with zlib. */
  private async feed(all: boolean): Promise<void> {
    while (this.pending.bytes >= this.blockSize || (all && this.pending.bytes > 0)) {
      const whole = this.free.pop() ?? Buffer.allocUnsafe(this.blockSize)
      const block = this.pending.fill(whole.subarray(0, Math.min(this.blockSize, this.pending.bytes)))
      const written = new Promise<void>((ok, fail) =>
        this.inner.write(block, (e) => {
          if (e) return fail(e)
          this.free.push(whole) // zlib is done with it
          ok()
        }),
      )
      written.catch(() => undefined) // the inner stream's 'error' destroys this one; awaited below when it matters
      this.inFlight.push(written)
      if (this.inFlight.length >= 2) await this.inFlight.shift()
    }
  }
}

export function decompressor(c: Compression): Transform | undefined {
  if (c === 'none') return undefined
  return c === 'gzip' ? zlib.createGunzip({ chunkSize: CHUNK }) : zlib.createBrotliDecompress({ chunkSize: CHUNK })
}
