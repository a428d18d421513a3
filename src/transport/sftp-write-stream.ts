// An SFTP upload with several writes in flight, as OpenSSH's sftp keeps 64 requests of 32 KiB out at once. ssh2's
// own write stream sends one write and waits for sftp-server's answer before the next (and cuts a write longer
// than the server's limit into pieces it also sends one after another), so the upload stood still for every round
// trip: 160 MiB took 2.0–2.6 s over loopback, against 1.0–1.2 s with writes kept in flight and 1.0 s for
// OpenSSH's sftp on the same sshd. Writes carry their offset, so their answers may come in any order.
import { Writable } from 'node:stream'
import type { SFTPWrapper } from 'ssh2'

/** Bytes written and not yet answered before a write waits. Measured on loopback: see `scripts/bench backup`. */
export const SFTP_WRITE_WINDOW = 1 << 20

export interface SftpWriteOptions {
  mode: number
  /** Bytes in flight before a write waits (SFTP_WRITE_WINDOW). */
  window?: number
  /** fsync the file before closing it (the server must offer fsync@openssh.com). */
  fsync?: boolean
  /** Names a failure for the caller (the host, the path, what was being done). */
  error: (doing: 'write' | 'chmod' | 'fsync', e: unknown) => Error
}

/**
 * A file written through SFTP. 'finish' means every byte was acknowledged, the mode set, the file fsynced (when
 * asked) and closed.
 */
export class SftpWriteStream extends Writable {
  private handle?: Buffer
  private pos = 0
  private inFlight = 0
  private failed?: Error
  /** The write or final waiting for answers to come back, if any. */
  private waiting?: () => void
  /** ssh2 drops a request sent on a closed SFTP channel without ever answering it: a closed session fails the stream. */
  private readonly onClose = () => this.fail(new Error('the SFTP session closed'))

  constructor(
    private readonly sftp: SFTPWrapper,
    private readonly path: string,
    private readonly opts: SftpWriteOptions,
  ) {
    // The window is the buffer: the stream's own queue adds only the one write that waits for room.
    super({ highWaterMark: 64 << 10 })
    sftp.once('close', this.onClose)
  }

  override _construct(cb: (e?: Error | null) => void): void {
    this.sftp.open(this.path, 'w', { mode: this.opts.mode }, (e, handle) => {
      if (e) return cb(this.opts.error('write', e))
      this.handle = handle
      cb()
    })
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.failed) return cb(this.failed)
    const n = chunk.length
    this.inFlight += n
    // ssh2 copies the bytes into its request at once, so the chunk is not held while the answer is awaited (unless
    // it is longer than the server's write limit: 256 KiB on OpenSSH, about 33 KiB elsewhere).
    this.sftp.write(this.handle!, chunk, 0, n, this.pos, (e) => {
      this.inFlight -= n
      if (e) this.fail(e)
      else this.wake()
    })
    this.pos += n
    this.whenBelow(this.opts.window ?? SFTP_WRITE_WINDOW, cb)
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.whenBelow(1, (e) => {
      if (e) return cb(e)
      // An existing file keeps its old mode on open(O_TRUNC), and a new one is cut by sshd's umask: set it.
      this.sftp.fchmod(this.handle!, this.opts.mode, (e) => {
        if (e) return cb(this.opts.error('chmod', e))
        if (!this.opts.fsync) return this.close(cb)
        this.sftp.ext_openssh_fsync(this.handle!, (e) => (e ? cb(this.opts.error('fsync', e)) : this.close(cb)))
      })
    })
  }

  override _destroy(e: Error | null, cb: (e?: Error | null) => void): void {
    this.sftp.off('close', this.onClose)
    // Not waited for: over a dead connection or a closed session the answer never comes (ssh2 drops the request).
    if (this.handle) this.sftp.close(this.handle, () => undefined)
    this.handle = undefined
    cb(e)
  }

  private fail(e: unknown): void {
    this.failed ??= this.opts.error('write', e)
    this.wake()
  }

  private wake(): void {
    const next = this.waiting
    this.waiting = undefined
    next?.()
  }

  /** `cb` once fewer than `limit` bytes are unanswered, or with the first write's error. */
  private whenBelow(limit: number, cb: (e?: Error | null) => void): void {
    if (this.failed) return cb(this.failed)
    if (this.inFlight < limit) return cb()
    this.waiting = () => this.whenBelow(limit, cb)
  }

  private close(cb: (e?: Error | null) => void): void {
    this.sftp.close(this.handle!, (e) => {
      this.handle = undefined
      this.sftp.off('close', this.onClose)
      cb(e ? this.opts.error('write', e) : null)
    })
  }
}
