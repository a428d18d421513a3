// A command on another host in the shape zx's `spawn` option must return (a ChildProcess: stdin, stdout, stderr,
// 'error', 'exit', 'close', kill()), so that a host's `$` is zx's own `$`. The ssh transport opens an ssh2 channel
// for it, the docker-exec transport a local `docker exec`. It has no local pid: zx's own kill (which signals local
// process groups) must never be pointed at it; dr's timeouts call kill() here, which kills the remote group.
import { EventEmitter } from 'node:events'
import { PassThrough, Transform, type Readable, type Writable } from 'node:stream'

/** The real thing behind a RemoteChild. */
export interface RemoteIo {
  stdin: Writable
  stdout: Readable
  stderr: Readable
  /** The exit status, when the host reports one. */
  onExit(cb: (code: number | null, signal: string | null) => void): void
  /** The channel (or local client) is gone. */
  onClose(cb: () => void): void
  /** Stop talking to the command: close the channel, kill the local client. */
  abort(): void
}

// The command line first prints its shell's PID on stderr, so that a timeout can kill its whole process group:
// sshd refuses "signal" requests for most logins, and ending the channel or the local docker client leaves the
// remote command running. sshd and docker exec both start the command's shell as a session (and group) leader.
const PID_LINE = /^\x1edr-pid:(\d+)\n/

/** A POSIX sh prefix for the command line that reports the shell's PID (see PID_LINE). */
export const REPORT_PID = `printf '\\036dr-pid:%s\\n' $$ >&2; `

/** Split the PID line off the start of a command's stderr. */
export function splitPid(stderr: Buffer): { pid?: number; rest: Buffer } {
  const m = PID_LINE.exec(stderr.subarray(0, 40).toString('latin1'))
  return m ? { pid: Number(m[1]), rest: stderr.subarray(m[0].length) } : { rest: stderr }
}

// The whole session, not only the group: under sudo the command runs in a process group of its own (sudo's child),
// but it stays in the session the login shell leads.
export const killGroupCommand = (pid: number): string =>
  `pkill -KILL -s ${pid} 2>/dev/null; kill -KILL -- -${pid} 2>/dev/null || kill -KILL ${pid} 2>/dev/null; true`

/** Takes the PID line off the start of stderr and passes the rest through. */
class PidFilter extends Transform {
  private head: Buffer | undefined = Buffer.alloc(0)
  constructor(private readonly onPid: (pid: number) => void) {
    super()
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: () => void) {
    if (!this.head) {
      this.push(chunk)
      return cb()
    }
    const head = Buffer.concat([this.head, chunk])
    const nl = head.indexOf(10)
    if (head[0] === 0x1e && nl < 0 && head.length < 40) {
      this.head = head // the PID line is still arriving
      return cb()
    }
    const { pid, rest } = splitPid(head)
    if (pid) this.onPid(pid)
    this.head = undefined
    if (rest.length) this.push(rest)
    cb()
  }
  override _flush(cb: () => void) {
    if (this.head?.length) this.push(this.head)
    cb()
  }
}

const ended = (s: Readable) => (s.readableEnded || s.destroyed ? Promise.resolve() : new Promise<void>((r) => (s.once('end', r), s.once('close', r))))

export class RemoteChild extends EventEmitter {
  readonly stdin = new PassThrough()
  readonly stdout = new PassThrough()
  readonly stderr: PidFilter
  readonly pid = undefined
  exitCode: number | null = null
  signalCode: string | null = null
  private io?: RemoteIo
  private remotePid?: number
  private killed = false
  private killing: Promise<void> = Promise.resolve()
  private stopOnPid?: () => void
  private finished = false

  constructor(
    open: () => Promise<RemoteIo>,
    private readonly killGroup: (pid: number) => Promise<void>,
  ) {
    super()
    this.stderr = new PidFilter((pid) => {
      this.remotePid = pid
      const stop = this.stopOnPid
      this.stopOnPid = undefined
      stop?.()
    })
    // zx writes the input and ends stdin at once; a command that exits before reading it must not fail dr.
    this.stdin.on('error', () => {})
    open().then(
      (io) => {
        this.io = io
        if (this.killed) io.abort()
        io.stdin.on('error', () => {}) // same: the remote side may close its stdin first
        this.stdin.pipe(io.stdin)
        io.stdout.pipe(this.stdout)
        io.stderr.pipe(this.stderr)
        io.onExit((code, signal) => {
          this.exitCode = code
          this.signalCode = signal
        })
        io.onClose(() => this.finish())
      },
      (err: Error) => {
        this.emit('error', err)
        this.stdout.end()
        this.stderr.end()
        this.finish()
      },
    )
  }

  /** Kill the command's process group on the host, then stop waiting for it. */
  kill(_signal?: string): boolean {
    if (this.finished || this.killed) return false
    this.killed = true
    const stop = () => {
      // The result waits for the group kill (a few seconds at most): a caller that looks next sees it gone.
      if (this.remotePid) this.killing = this.killGroup(this.remotePid).catch(() => undefined)
      this.io?.abort()
      // A host that does not answer any more must not hold dr: give up on its output after a second.
      setTimeout(() => this.finish(true), 1000).unref()
    }
    if (this.remotePid || !this.io) return stop(), true
    // Started but its PID not reported yet (a busy docker takes ~0.7 s to start an exec): wait for it, briefly.
    this.stopOnPid = stop
    setTimeout(() => {
      if (this.stopOnPid) (this.stopOnPid = undefined), stop()
    }, 3000).unref()
    return true
  }

  private finish(force = false) {
    if (this.finished) return
    this.finished = true
    const streams = force ? (this.stdout.end(), this.stderr.end(), Promise.resolve()) : Promise.all([ended(this.stdout), ended(this.stderr)])
    const cap = new Promise((r) => setTimeout(r, 3000).unref())
    void Promise.race([Promise.all([streams, this.killing]), cap]).then(() => {
      if (this.killed && this.exitCode === null && this.signalCode === null) this.signalCode = 'SIGKILL'
      this.emit('exit', this.exitCode, this.signalCode)
      this.emit('close', this.exitCode, this.signalCode)
    })
  }
}
