// The backup pipeline: raw snapshot bytes → sha256 (+ etcd's own trailer check) → brotli or gzip → age → sink, streamed
// with backpressure end to end, so memory stays flat whatever the database size. And its inverse for verify.
import type { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { snapshotStream, type SnapshotTarget } from '../etcd/snapshot-stream.ts'
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
 * The member's snapshot as a byte stream. It reads no further ahead than one stage and etcd's flow-control window:
 * etcd sends no faster than the slowest stage downstream consumes.
 */
export function snapshotSource(target: SnapshotTarget, opts: { timeoutMs?: number } = {}): Readable {
  return snapshotStream(target, { timeoutMs: opts.timeoutMs, highWaterMark: STAGE_BYTES })
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
