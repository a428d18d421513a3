// Files on an SSH host: SFTP as the login user, or — when the inventory says sudo — small shell commands under
// `sudo -n`, because SFTP cannot change user and root-owned paths (/etc/kubernetes, /var/lib/etcd) need root.
import { once } from 'node:events'
import { posix } from 'node:path'
import { PassThrough, Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { SFTPWrapper } from 'ssh2'
import { DrError } from '../core/error.ts'
import { quote } from './shell.ts'
import { SftpWriteStream } from './sftp-write-stream.ts'
import { listDirCommand, parseNulList, renameCommand, syncCommand, writeFileCommand } from './remote-commands.ts'
import type { RenameOptions, WriteFileOptions } from './types.ts'
import type { SshTransport } from './ssh.ts'

const SFTP_NO_SUCH_FILE = 2

export class SshFiles {
  constructor(private readonly t: SshTransport) {}

  private get sudo() {
    return this.t.settings.sudo
  }

  private fileError(doing: string, path: string, e: unknown): DrError {
    if (e instanceof DrError) return e
    const err = e as Error & { code?: number | string }
    return new DrError({
      code: err.code === SFTP_NO_SUCH_FILE || err.code === 'ENOENT' ? 'file.not-found' : 'file.failed',
      host: this.t.host,
      doing: `${doing} ${path}`,
      message: `${this.t.host}: cannot ${doing} ${path}: ${err.message}`,
      hint: err.code === SFTP_NO_SUCH_FILE ? 'check the path on the host' : 'check the path and its permissions on the host (ssh.sudo runs file operations as root)',
      cause: e,
    })
  }

  /** A shell command under sudo that must succeed; returns its stdout bytes. */
  private async sh(command: string, doing: string, input?: string | Buffer): Promise<Buffer> {
    const r = await this.t.run(`sudo -n -- sh -c ${quote(command)}`, { input })
    if (r.exitCode !== 0 || r.timedOut || r.failure) {
      const stderr = r.stderr.toString('utf8').trim()
      throw new DrError({
        code: /No such file/i.test(stderr) ? 'file.not-found' : 'file.failed',
        host: this.t.host,
        doing,
        message: `${this.t.host}: cannot ${doing}`,
        command,
        exitStatus: r.exitCode,
        stderr,
        hint: /sudo: a (terminal|password) is required|sudo: .*not found/i.test(stderr)
          ? `ssh.sudo is true but ${this.t.settings.user} cannot run sudo without a password on ${this.t.host}; add a NOPASSWD sudoers rule or log in as root`
          : 'check the path and its permissions on the host',
      })
    }
    return r.stdout
  }

  async readFile(path: string): Promise<Buffer> {
    if (this.sudo) return this.sh(`cat -- ${quote(path)}`, `read ${path}`)
    const sftp = await this.t.sftp()
    return new Promise((resolve, reject) => sftp.readFile(path, (e, data) => (e ? reject(this.fileError('read', path, e)) : resolve(data))))
  }

  async writeFile(path: string, data: string | Buffer, opts: WriteFileOptions = {}): Promise<void> {
    const mode = opts.mode ?? 0o600
    if (this.sudo) {
      await this.sh(writeFileCommand(path, mode, opts.durable), `write ${path}`, data)
      return
    }
    if (opts.durable) {
      await pipeline(Readable.from([Buffer.from(data)]), await this.sftpWriteStream(path, mode, true))
      return
    }
    const sftp = await this.t.sftp()
    await new Promise<void>((resolve, reject) =>
      sftp.writeFile(path, data, { mode }, (e) => (e ? reject(this.fileError('write', path, e)) : resolve())),
    )
    // An existing file keeps its old mode on open(O_TRUNC), and a new one is cut by sshd's umask: set it.
    await new Promise<void>((resolve, reject) => sftp.chmod(path, mode, (e) => (e ? reject(this.fileError('chmod', path, e)) : resolve())))
  }

  async createReadStream(path: string): Promise<NodeJS.ReadableStream> {
    if (this.sudo) {
      // Fail now on a missing or unreadable file rather than as a short stream; a later failure of cat (its
      // non-zero exit) destroys the stream with its stderr (openStream).
      await this.sh(`: < ${quote(path)}`, `read ${path}`) // the shell opens it: "No such file" when missing
      return this.sudoReadStream(path)
    }
    const sftp = await this.t.sftp()
    // Fail now on a missing file rather than on the first read.
    await new Promise<void>((resolve, reject) => sftp.stat(path, (e) => (e ? reject(this.fileError('read', path, e)) : resolve())))
    return sftp.createReadStream(path)
  }

  /**
   * `sudo -n -- cat -- path` as a plain Readable that ends only once cat exited 0 (a failure destroys it with
   * cat's stderr). Not the channel itself: ssh2 emits a channel's 'close' by hand, so its `closed` stays false and
   * a reader that waits for 'close' after the data (catalog's readAll) would wait forever.
   */
  private async sudoReadStream(path: string): Promise<NodeJS.ReadableStream> {
    const ch = await this.t.openStream(['cat', '--', path], { sudo: true })
    const out = new PassThrough()
    ch.pipe(out, { end: false })
    ch.once('error', (e: Error) => out.destroy(this.fileError('read', path, e)))
    let chClosed = false
    ch.once('close', (code: number | null) => {
      chClosed = true
      if (code === 0) out.end()
      else if (!out.destroyed) out.destroy(this.fileError('read', path, new Error(code === null ? 'the SSH channel closed without an exit status' : `cat exited with ${code}`)))
    })
    out.once('close', () => chClosed || ch.destroy()) // a reader that stops early ends the remote cat
    return out
  }

  async createWriteStream(path: string, opts: WriteFileOptions = {}): Promise<NodeJS.WritableStream> {
    const mode = opts.mode ?? 0o600
    return this.sudo ? this.sudoWriteStream(path, mode, opts.durable) : this.sftpWriteStream(path, mode, opts.durable)
  }

  /**
   * `sudo -n -- sh -c 'cat > path'` fed through its channel. The channel's stdout is drained: ssh2 emits a
   * channel's 'close' only after its readable side has ended, so an unread channel never closes and the upload
   * would wait forever (the hang of `dr backup now` to an SFTP store under sudo).
   */
  private async sudoWriteStream(path: string, mode: number, durable = false): Promise<NodeJS.WritableStream> {
    const ch = await this.t.openStream(['sh', '-c', writeFileCommand(path, mode, durable)], { sudo: true })
    ch.resume()
    let exitCode: number | null = null
    ch.on('exit', (c: number | null) => (exitCode = c))
    const done = new Promise<void>((resolve, reject) => {
      ch.once('error', (e: Error) => reject(this.fileError('write', path, e)))
      ch.once('close', () =>
        exitCode === 0 ? resolve() : reject(this.fileError('write', path, new Error(exitCode === null ? 'the SSH channel closed without an exit status' : `sh exited with ${exitCode}`))),
      )
    })
    done.catch(() => {}) // awaited by final(); a failure before then shows there
    return finishing(ch, done)
  }

  /**
   * durable: the data is fsynced before the file is closed, by OpenSSH's fsync@openssh.com on the open handle; a
   * server without it gets `sync FILE` in a shell once the file is closed.
   */
  private async sftpWriteStream(path: string, mode: number, durable = false): Promise<NodeJS.WritableStream> {
    const sftp = await this.t.sftp()
    const byHandle = durable && hasExtension(sftp, 'fsync@openssh.com')
    const stream = new SftpWriteStream(sftp, path, { mode, fsync: byHandle, error: (doing, e) => this.fileError(doing, path, e) })
    if (!durable || byHandle) return stream
    const done = once(stream, 'finish').then(() => this.plain(syncCommand(path), `sync ${path}`))
    done.catch(() => {}) // awaited by final(); a failure before then shows there
    return finishing(stream, done)
  }

  async rename(from: string, to: string, opts: RenameOptions = {}): Promise<void> {
    // mv is rename(2) on one filesystem, and replaces `to` like POSIX rename; SFTP's rename refuses to. OpenSSH's
    // posix-rename@openssh.com is rename(2) itself, without a shell started on the host (0.3–0.4 s each on a busy
    // machine: two per backup).
    const doing = `rename ${from} to ${to}`
    if (!this.sudo) {
      const sftp = await this.t.sftp()
      if (hasExtension(sftp, 'posix-rename@openssh.com')) {
        await new Promise<void>((resolve, reject) => sftp.ext_openssh_rename(from, to, (e) => (e ? reject(this.fileError('rename', `${from} to ${to}`, e)) : resolve())))
        if (opts.durable) await this.syncDirectory(sftp, posix.dirname(to))
        return
      }
    }
    const cmd = renameCommand(from, to, opts.durable)
    if (this.sudo) await this.sh(cmd, doing)
    else await this.plain(cmd, doing)
  }

  /**
   * fsync a directory without a shell: OpenSSH's sftp-server opens a directory read-only like a file (open(2)
   * allows it), and fsync@openssh.com on that handle is fsync(2) of the directory. A server that refuses either
   * gets `sync DIR` in a shell (on a host whose login shell runs a heavy rc file, that costs a shell's start-up).
   */
  private async syncDirectory(sftp: SFTPWrapper, dir: string): Promise<void> {
    if (hasExtension(sftp, 'fsync@openssh.com')) {
      const synced = await new Promise<boolean>((resolve) =>
        sftp.open(dir, 'r', (e, handle) => {
          if (e) return resolve(false)
          sftp.ext_openssh_fsync(handle, (e) => sftp.close(handle, () => resolve(!e)))
        }),
      )
      if (synced) return
    }
    await this.plain(syncCommand(dir), `sync ${dir}`)
  }

  async unlink(path: string): Promise<void> {
    if (this.sudo) {
      await this.sh(`rm -- ${quote(path)}`, `remove ${path}`)
      return
    }
    const sftp = await this.t.sftp()
    await new Promise<void>((resolve, reject) => sftp.unlink(path, (e) => (e ? reject(this.fileError('remove', path, e)) : resolve())))
  }

  async readdir(path: string): Promise<string[]> {
    if (this.sudo) {
      return parseNulList(await this.sh(listDirCommand(path), `list ${path}`))
    }
    const sftp = await this.t.sftp()
    return new Promise((resolve, reject) =>
      sftp.readdir(path, (e, list) => {
        if (e) return (e as { code?: number }).code === SFTP_NO_SUCH_FILE ? resolve([]) : reject(this.fileError('list', path, e))
        resolve(list.map((f) => f.filename).sort())
      }),
    )
  }

  async mkdir(path: string, opts: { mode?: number } = {}): Promise<void> {
    const cmd = `mkdir -p -m ${(opts.mode ?? 0o700).toString(8)} -- ${quote(path)}`
    // A directory that exists already is all `mkdir -p` would leave (it changes no mode): one SFTP stat instead of
    // a shell started on the host.
    if (!this.sudo && (await this.isDirectory(path))) return
    if (this.sudo) await this.sh(cmd, `create ${path}`)
    else await this.plain(cmd, `create ${path}`)
  }

  /** false for anything but an existing directory, unreadable ones included: mkdir then says what is wrong. */
  private async isDirectory(path: string): Promise<boolean> {
    const sftp = await this.t.sftp()
    return new Promise((resolve) => sftp.stat(path, (e, st) => resolve(!e && st.isDirectory())))
  }

  private async plain(command: string, doing: string): Promise<void> {
    const r = await this.t.exec(command, { nothrow: true, sudo: false })
    if (!r.ok)
      throw new DrError({ code: 'file.failed', host: this.t.host, doing, message: `${this.t.host}: cannot ${doing}`, command, exitStatus: r.exitCode, stderr: r.stderr, hint: 'check the path and its permissions on the host' })
  }
}

/**
 * A writable whose 'finish' means the bytes are on the host (`done` settled), not merely sent. An error of the inner
 * stream fails it at once: a write waiting for 'drain' from a failed stream would wait forever.
 */
function finishing(inner: NodeJS.WritableStream, done: Promise<void>): Writable {
  const outer = new Writable({
    write(chunk, _enc, cb) {
      inner.write(chunk) ? cb() : inner.once('drain', () => cb())
    },
    final: (cb) => {
      inner.end()
      done.then(() => cb(), cb)
    },
    destroy(err, cb) {
      ;(inner as unknown as { destroy?: () => void }).destroy?.()
      cb(err)
    },
  })
  // With `done`'s own error when it failed too: that one names the host and the path.
  inner.once('error', (e: Error) => done.then(() => outer.destroy(e), (named: Error) => outer.destroy(named)))
  return outer
}

/** The server announced this SFTP extension. ssh2 keeps them in a private field: a version without it gets false. */
function hasExtension(sftp: SFTPWrapper, name: string): boolean {
  return (sftp as unknown as { _extensions?: Record<string, string> })._extensions?.[name] !== undefined
}
