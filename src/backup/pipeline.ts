// The backup pipeline: raw snapshot bytes → sha256 (+ etcd's own trailer check) → brotli or gzip → age → sink, streamed
// with backpressure end to end, so memory stays flat whatever the database size. And its inverse for verify.
import { Transform, type Readable, type Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Etcd3 } from 'etcd3'
import { ageDecrypt, ageEncrypt } from './age-stream.ts'
import { DigestStream, SnapshotDigestStream, type Digest } from './digest.ts'
import { compressor, decompressor, DEFAULT_COMPRESSION, type Compression } from './codec.ts'
import { STAGE_BYTES } from './stage.ts'

export interface EncodeOptions {
  /** age recipients; none = not encrypted. */
  recipients: string[]
  /** The codec (codec.ts); brotli when not given. */
  compression?: Compression
  signal?: AbortSignal
}

export interface EncodeResult {
  snapshot: Digest
  /** etcd's sha256 trailer matched the snapshot's body. */
  trailerValid: boolean
  stored: Digest
  durationMs: number
}

/**
 * The Snapshot RPC as a byte stream. Pulling one message at a time keeps gRPC's flow control in charge: etcd
 * sends no faster than the slowest stage downstream consumes.
 */
export function snapshotSource(client: Etcd3, opts: { timeoutMs?: number } = {}): Readable {
  const out = new Transform({
    writableObjectMode: true,
    readableHighWaterMark: STAGE_BYTES,
    transform(msg: { blob: Buffer }, _enc, cb) {
      cb(null, msg.blob)
    },
  })
  client.maintenance.snapshot({ deadline: Date.now() + (opts.timeoutMs ?? 3_600_000) }).then(
    (stream) => {
      const s = stream as unknown as Readable
      s.on('error', (e) => out.destroy(e))
      out.on('close', () => s.destroy())
      s.pipe(out)
    },
    (e) => out.destroy(e),
  )
  return out
}

export async function encodeSnapshot(source: Readable, sink: Writable, opts: EncodeOptions): Promise<EncodeResult> {
  const started = Date.now()
  const snap = new SnapshotDigestStream()
  const stored = new DigestStream()
  const stages: NodeJS.ReadWriteStream[] | any[] = [source, snap]
  const z = compressor(opts.compression ?? DEFAULT_COMPRESSION)
  if (z) stages.push(z)
  if (opts.recipients.length > 0) stages.push(ageEncrypt(opts.recipients))
  stages.push(stored, sink)
  await pipeline(stages as any, { signal: opts.signal })
  return { snapshot: snap.digest(), trailerValid: snap.trailerValid(), stored: stored.digest(), durationMs: Date.now() - started }
}

export interface DecodeOptions {
  identities: string[]
  compression: Compression
  encrypted: boolean
  signal?: AbortSignal
}

export interface DecodeResult {
  stored: Digest
  snapshot: Digest
  trailerValid: boolean
}

/** Stored bytes → raw snapshot into `sink`, measuring both ends. Throws on any decryption or decompression error. */
export async function decodeSnapshot(source: Readable, sink: Writable, opts: DecodeOptions): Promise<DecodeResult> {
  const stored = new DigestStream()
  const snap = new SnapshotDigestStream()
  const stages: any[] = [source, stored]
  if (opts.encrypted) stages.push(ageDecrypt(opts.identities))
  const z = decompressor(opts.compression)
  if (z) stages.push(z)
  stages.push(snap, sink)
  await pipeline(stages as any, { signal: opts.signal })
  return { stored: stored.digest(), snapshot: snap.digest(), trailerValid: snap.trailerValid() }
}
