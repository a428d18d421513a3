// A host reached over SSH (ssh2): verified host keys, key files or the agent (never forwarded), an optional jump
// host, `sudo -n` when the inventory asks, timeouts on connect and on every command, SFTP, TCP tunnels for TLS
// services and command streams (the docker API through `docker system dial-stdio`, no listener anywhere).
//
// Commands are zx's: the host's `$` is zx's `$` whose spawn opens an ssh2 channel. The login shell may be a plain
// sh (dash): it gets `exec bash -c '<command>'` in POSIX quotes, so the command itself (with zx's bash quoting)
// always runs under bash. The host needs bash, as every supported distribution has.
import type { Client, ClientChannel, SFTPWrapper } from 'ssh2'
import type { Duplex } from 'node:stream'
import type { ProcessPromise } from 'zx'
import { DrError } from '../core/error.ts'
import type { SshSettings } from '../inventory/types.ts'
import { listenTunnel, TunnelSet } from './local.ts'
import { execWith, makeShell, type ShellRunner } from './shell.ts'
import { shQuote, shQuoteArgv } from './sh-quote.ts'
import type { ExecOptions, ExecResult, RenameOptions, Transport, Tunnel, WriteFileOptions } from './types.ts'
import { openClient, type SshTarget } from './ssh-connect.ts'
import type { SshContext } from './ssh-errors.ts'
import { SshFiles } from './ssh-files.ts'
import { killGroupCommand, RemoteChild, REPORT_PID, type RemoteIo } from './remote-child.ts'

export type { SshTarget } from './ssh-connect.ts'

/** `sudo -n` (never prompt: a prompt would hang a fan-out) and bash around one command, for a POSIX login shell. */
export const wrapSudo = (command: string): string => `sudo -n -- bash -c ${shQuote(command)}`
const wrapBash = (command: string): string => `bash -c ${shQuote(command)}`

interface RawRun {
  exitCode: number | null
  signal: string | null
  stdout: Buffer
  stderr: Buffer
  durationMs: number
  timedOut: boolean
  /** Set when the channel could not be opened or the connection dropped. */
  failure?: string
}

/**
 * An ssh2 channel as the RemoteIo behind a RemoteChild. Called inside exec's callback: ssh2 may parse the
 * command's whole life (output, exit status, close) from one TCP read, right after that callback, so the exit
 * status and the close are recorded at once, not when the RemoteChild gets around to listening.
 */
function channelIo(ch: ClientChannel): RemoteIo {
  ch.on('error', () => {}) // a dropped connection shows as 'close' without an exit status, reported as a failure
  let exit: [number | null, string | null] | undefined
  let closed = false
  const exitCbs: Array<(code: number | null, signal: string | null) => void> = []
  const closeCbs: Array<() => void> = []
  ch.on('exit', (code: number | null, sig?: string) => {
    exit = [code ?? null, sig ? `SIG${sig}` : null]
    for (const cb of exitCbs) cb(...exit)
  })
  ch.on('close', () => {
    closed = true
    for (const cb of closeCbs) cb()
  })
  return {
    stdin: ch,
    stdout: ch,
    stderr: ch.stderr,
    onExit: (cb) => (exit ? cb(...exit) : exitCbs.push(cb)),
    onClose: (cb) => (closed ? cb() : closeCbs.push(cb)),
    abort: () => {
      ch.signal('KILL')
      ch.close()
    },
  }
}

export class SshTransport implements Transport {
  readonly kind = 'ssh' as const
  readonly host: string
  readonly $
  private readonly files: SshFiles
  private readonly tunnels = new TunnelSet()
  private closed = false

  private constructor(
    readonly target: SshTarget,
    readonly client: Client,
    private readonly ctx: SshContext,
  ) {
    this.host = target.name
    this.$ = makeShell(this.runner())
    this.files = new SshFiles(this)
    client.on('close', () => (this.closed = true))
  }

  /** Connect (through `via` when the host sits behind a jump host). Throws a mapped DrError. */
  static async connect(target: SshTarget, opts: { via?: SshTransport } = {}): Promise<SshTransport> {
    const { client, ctx } = await openClient(target, opts.via && { host: opts.via.host, open: (h, p) => opts.via!.openForward(h, p) })
    return new SshTransport(target, client, ctx)
  }

  get settings(): SshSettings {
    return this.target.ssh
  }

  private sudo(o: ExecOptions): boolean {
    return o.sudo ?? this.settings.sudo
  }

  /** zx's `$` for this host: its spawn runs the command over an ssh2 channel. */
  private runner(): ShellRunner {
    return {
      host: this.host,
      defaultTimeoutMs: this.settings.commandTimeoutMs,
      options: (o) => ({ shell: 'bash', spawn: ((command: string) => this.spawn(command, this.sudo(o))) as never }),
      shown: (command, o) => (this.sudo(o) ? wrapSudo(command) : command),
      kill: (p) => killRemote(p),
    }
  }

  /** One command as a RemoteChild (zx's spawn): the login shell reports its PID, then becomes bash (or sudo). */
  private spawn(command: string, sudo: boolean): RemoteChild {
    const line = REPORT_PID + 'exec ' + (sudo ? wrapSudo(command) : wrapBash(command))
    return new RemoteChild(
      () => this.channel(line, channelIo),
      (pid) => this.killGroup(pid, sudo),
    )
  }

  /** Open a channel for a command line; `attach` runs inside ssh2's callback, before any of its events. */
  private channel<T = ClientChannel>(line: string, attach: (ch: ClientChannel) => T = (ch) => ch as T): Promise<T> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error(`the SSH connection to ${this.host} is closed`))
      try {
        this.client.exec(line, (err, ch) => (err ? reject(new Error(`cannot start a command on ${this.host}: ${err.message}`)) : resolve(attach(ch))))
      } catch (e) {
        reject(new Error(`cannot start a command on ${this.host}: ${(e as Error).message}`))
      }
    })
  }

  /**
   * Run a command line as the login shell gets it and collect its bytes (zx decodes output as text, and file
   * contents under sudo must stay bytes); never throws.
   */
  run(line: string, opts: { input?: string | Buffer } = {}): Promise<RawRun> {
    const started = Date.now()
    return this.channel(line, (ch) => {
      const out: Buffer[] = []
      const errOut: Buffer[] = []
      let exitCode: number | null = null
      let signal: string | null = null
      ch.on('data', (d: Buffer) => out.push(d))
      ch.stderr.on('data', (d: Buffer) => errOut.push(d))
      ch.on('exit', (code: number | null, sig?: string) => {
        exitCode = code ?? null
        signal = sig ? `SIG${sig}` : null
      })
      ch.on('error', () => {}) // reported through the missing exit status
      const done = new Promise<RawRun>((resolve) =>
        ch.on('close', () => resolve({ exitCode, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(errOut), durationMs: Date.now() - started, timedOut: false })),
      )
      ch.end(opts.input ?? undefined)
      return { done }
    }).then(
      (r) => r.done,
      (e: Error) => ({ exitCode: null, signal: null, stdout: Buffer.alloc(0), stderr: Buffer.from(e.message), durationMs: Date.now() - started, timedOut: false, failure: e.message }),
    )
  }

  /** Kill a timed-out command's process group (sshd makes each session's shell a group leader). */
  private async killGroup(pid: number, sudo: boolean): Promise<void> {
    const kill = killGroupCommand(pid)
    const r = await this.run(sudo ? `sudo -n -- sh -c ${shQuote(kill)}` : kill)
    // Nothing more to do when it fails: the command's channel is closed already and its result says TIMEOUT.
    void r
  }

  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return execWith(this.$, command, opts)
  }

  private sftpSession?: Promise<SFTPWrapper>
  /** One SFTP session per connection, opened on first use and again after it closes (sftp-server gone): ssh2 never
   * answers a request sent on a closed session, so reusing it would hang every file operation after. */
  sftp(): Promise<SFTPWrapper> {
    const session: Promise<SFTPWrapper> = (this.sftpSession ??= new Promise<SFTPWrapper>((resolve, reject) =>
      this.client.sftp((err, s) => {
        if (err) return reject(this.channelError(err, 'open an SFTP session'))
        s.once('close', () => {
          if (this.sftpSession === session) this.sftpSession = undefined
        })
        resolve(s)
      }),
    ).catch((e) => {
      this.sftpSession = undefined
      throw e
    }))
    return session
  }

  /** A stream to targetHost:targetPort as seen from this host (also used as a jump host's `sock`). */
  openForward(targetHost: string, targetPort: number): Promise<ClientChannel> {
    return new Promise((resolve, reject) =>
      this.client.forwardOut('127.0.0.1', 0, targetHost, targetPort, (err, ch) =>
        err ? reject(this.channelError(err, `open a tunnel to ${targetHost}:${targetPort}`)) : resolve(ch),
      ),
    )
  }

  openUnixForward(socketPath: string): Promise<ClientChannel> {
    return new Promise((resolve, reject) =>
      this.client.openssh_forwardOutStreamLocal(socketPath, (err, ch) =>
        err ? reject(this.channelError(err, `open a tunnel to ${socketPath}`)) : resolve(ch),
      ),
    )
  }

  private channelError(err: Error, doing: string): DrError {
    const refused = /connection refused|no such file/i.test(err.message)
    const prohibited = /administratively prohibited|open failed/i.test(err.message)
    return new DrError({
      code: refused ? 'ssh.forward-refused' : 'ssh.channel-failed',
      host: this.host,
      doing,
      message: `${this.host}: cannot ${doing}: ${err.message}`,
      hint: refused
        ? `nothing listens there as seen from ${this.host}: is the service (or the next sshd) running?`
        : prohibited
          ? 'sshd on the host refuses it: check AllowTcpForwarding / AllowStreamLocalForwarding / Subsystem sftp in its sshd_config'
          : 'the SSH connection may have dropped; try again',
      cause: err,
    })
  }

  /** Only for TLS services that authenticate their clients (see Tunnel): the local port is open to local users. */
  async forward(targetHost: string, targetPort: number): Promise<Tunnel> {
    return this.tunnels.track(await listenTunnel(() => this.openForward(targetHost, targetPort)))
  }

  /** A command's stdin/stdout as one stream over an ssh2 channel (under sudo when the inventory says so). */
  async openStream(argv: string[], opts: { sudo?: boolean } = {}): Promise<Duplex> {
    const command = shQuoteArgv(argv)
    const sudo = opts.sudo ?? this.settings.sudo
    const shown = (sudo ? 'sudo -n -- ' : '') + command
    return this.channel(`exec ${shown}`, (ch) => commandStream(ch, this.host, shown)).catch((e: Error) => {
      throw new DrError({ code: 'ssh.channel-failed', host: this.host, doing: `run ${argv.join(' ')}`, message: e.message, hint: 'the SSH connection may have dropped; try again' })
    })
  }

  readFile(path: string) {
    return this.files.readFile(path)
  }
  writeFile(path: string, data: string | Buffer, opts?: WriteFileOptions) {
    return this.files.writeFile(path, data, opts)
  }
  createReadStream(path: string) {
    return this.files.createReadStream(path)
  }
  createWriteStream(path: string, opts?: WriteFileOptions) {
    return this.files.createWriteStream(path, opts)
  }
  rename(from: string, to: string, opts?: RenameOptions) {
    return this.files.rename(from, to, opts)
  }
  unlink(path: string) {
    return this.files.unlink(path)
  }
  readdir(path: string) {
    return this.files.readdir(path)
  }
  mkdir(path: string, opts?: { mode?: number }) {
    return this.files.mkdir(path, opts)
  }

  get isClosed(): boolean {
    return this.closed
  }

  async close(): Promise<void> {
    await this.tunnels.closeAll()
    if (this.closed) return
    await new Promise<void>((resolve) => {
      this.client.once('close', () => resolve())
      this.client.end()
      setTimeout(resolve, 2000).unref()
    })
  }
}

/** A command's channel as a stream: a non-zero exit destroys it with the command's stderr. */
function commandStream(ch: ClientChannel, host: string, command: string): Duplex {
  let stderr = ''
  ch.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)))
  ch.on('exit', (code: number | null) => {
    if (code === 0 || code === null) return
    // ssh2's Channel.destroy() drops its argument: the error is emitted here, then the channel closed.
    ch.emit(
      'error',
      new DrError({
        code: 'transport.stream-failed',
        host,
        message: `${host}: ${command} exited with status ${code}`,
        command,
        exitStatus: code,
        stderr: stderr.trim(),
        hint: /sudo/.test(stderr) ? 'ssh.sudo needs passwordless sudo (a NOPASSWD sudoers rule) for the login user' : 'is the command installed there, and may the login user run it?',
      }),
    )
    ch.close()
  })
  return ch
}

/** Kill a remote command: its RemoteChild kills the process group on the host (never a local kill). */
function killRemote(p: ProcessPromise): void {
  if (p.stage === 'fulfilled' || p.stage === 'rejected') return
  const child = p.child as unknown as RemoteChild | undefined
  if (child) child.kill('SIGKILL')
  else setTimeout(() => killRemote(p), 20).unref() // zx spawns on the next tick
}
