// Getting the encoded snapshot into a store without ever losing it. The stream goes to the store and, at the same
// time, to a local spool file. If the store fails (on the first attempt or after), the spool is complete anyway,
// uploads are retried from it with backoff, and if every attempt fails the spool is kept and the error says where.
// The snapshot is taken once: a flaky store never costs a second snapshot of the cluster.
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { once } from 'node:events'
import { PassThrough, Readable, Writable } from 'node:stream'
import { fsyncFileAndDir } from '../core/durable.ts'
import { DrError } from '../core/error.ts'
import type { BackupStore } from './store.ts'
import { STAGE_BYTES } from './stage.ts'

export interface RetryPolicy {
  /** Total attempts, the streamed one included. */
  attempts: number
  /** Delay before the second attempt; doubles each time. */
  baseDelayMs: number
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 2000 }

/** Writes every chunk to the spool file and, while it is healthy, to the store's stream; waits for both. */
class Tee extends Writable {
  private branchDead = false
  private gone!: () => void
  private readonly branchGone = new Promise<void>((r) => (this.gone = r))
  constructor(
    private readonly spool: fs.WriteStream,
    private readonly branch?: PassThrough,
  ) {
    super({ highWaterMark: STAGE_BYTES })
    branch?.on('error', () => this.dropBranch())
  }
  dropBranch() {
    if (this.branchDead) return
    this.branchDead = true
    this.gone()
    this.branch?.destroy()
  }
  _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void) {
    const waits: Promise<unknown>[] = []
    if (!this.spool.write(chunk)) waits.push(once(this.spool, 'drain'))
    if (this.branch && !this.branchDead && !this.branch.write(chunk)) waits.push(Promise.race([once(this.branch, 'drain'), this.branchGone]))
    if (waits.length === 0) cb()
    else Promise.all(waits).then(() => cb(), cb)
  }
  _final(cb: (e?: Error | null) => void) {
    if (this.branch && !this.branchDead) this.branch.end()
    this.spool.end()
    once(this.spool, 'close').then(() => cb(), cb)
  }
  _destroy(err: Error | null, cb: (e?: Error | null) => void) {
    this.spool.destroy()
    if (err) this.dropBranch()
    cb(err)
  }
}

export interface SpooledUpload {
  /** Where the encoded bytes go. */
  sink: Writable
  /** Resolves once the object is in the store (retrying from the spool as needed); rejects with a DrError. */
  finish(): Promise<{ attempts: number }>
  /** Remove the spool after a failed pipeline (the snapshot itself failed: nothing worth keeping). */
  discard(): Promise<void>
  /** Give up on the store (its first attempt has failed or is failing) and keep the complete spool. */
  abandon(): Promise<void>
  spoolPath: string
}

export interface UploadContext {
  store: BackupStore
  name: string
  spoolDir: string
  retry?: RetryPolicy
  signal?: AbortSignal
  onRetry?: (attempt: number, delayMs: number, error: unknown) => void
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  /** The first, streamed attempt becomes visible only once this resolves (see SaveOptions.commit). */
  commit?: Promise<void>
}

export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const t = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason)), { once: true })
  })

export async function spooledUpload(ctx: UploadContext): Promise<SpooledUpload> {
  await fsp.mkdir(ctx.spoolDir, { recursive: true, mode: 0o700 })
  const spoolPath = path.join(ctx.spoolDir, ctx.name)
  const spool = fs.createWriteStream(spoolPath, { mode: 0o600 })
  await once(spool, 'open')
  const branch = new PassThrough({ highWaterMark: STAGE_BYTES })
  const tee = new Tee(spool, branch)
  const first = ctx.store.save(ctx.name, branch, { signal: ctx.signal, commit: ctx.commit }).then(
    () => undefined,
    (e: unknown) => {
      tee.dropBranch()
      return e ?? new Error('upload failed')
    },
  )
  const retry = ctx.retry ?? DEFAULT_RETRY
  const wait = ctx.sleep ?? sleep
  return {
    sink: tee,
    spoolPath,
    async discard() {
      tee.destroy()
      await first
      await fsp.unlink(spoolPath).catch(() => {})
    },
    async abandon() {
      await first
    },
    async finish() {
      let error = await first
      let attempts = 1
      while (error !== undefined && attempts < retry.attempts) {
        const delay = retry.baseDelayMs * 2 ** (attempts - 1)
        ctx.onRetry?.(attempts + 1, delay, error)
        await wait(delay, ctx.signal)
        attempts++
        error = await ctx.store.save(ctx.name, fs.createReadStream(spoolPath), { signal: ctx.signal }).then(
          () => undefined,
          (e: unknown) => e ?? new Error('upload failed'),
        )
      }
      if (error !== undefined) {
        // The local copy is now the backup: on disk before dr says where it is. The store's failure stays the error;
        // a local disk that cannot sync it either is said beside it.
        const unsynced = await fsyncFileAndDir(spoolPath).then(() => '', (e: unknown) => ` (but it could not be synced to disk: ${errorMessage(e)})`)
        throw new DrError({
          code: 'backup.store-failed',
          message: `could not write ${ctx.name} to store "${ctx.store.name}" after ${attempts} attempt(s): ${errorMessage(error)}`,
          doing: `upload the backup to ${ctx.store.location(ctx.name)}`,
          hint: `the backup is kept locally at ${spoolPath}${unsynced}; fix the store and copy it there, or run \`dr backup now\` again`,
          details: { spool: spoolPath, store: ctx.store.name },
          cause: error,
        })
      }
      await fsp.unlink(spoolPath).catch(() => {})
      return { attempts }
    },
  }
}

/** Small objects (metadata): the same retries, and a local copy kept beside the spool on failure. */
export async function uploadSmall(ctx: UploadContext, data: Buffer): Promise<{ attempts: number }> {
  const up = await spooledUpload(ctx)
  await new Promise<void>((resolve, reject) => {
    up.sink.on('error', reject)
    up.sink.end(data, () => resolve())
  })
  return up.finish()
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message.split('\n')[0]
  return String(e)
}
