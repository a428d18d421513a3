// A host reached over SSH (ssh2): verified host keys, key files or the agent (never forwarded), an optional jump
// host, `sudo -n` when the inventory asks, timeouts on connect and on every command, SFTP, and TCP/unix tunnels.
import type { Client, ClientChannel, SFTPWrapper } from 'ssh2'
import { DrError } from '../core/error.ts'
import type { SshSettings } from '../inventory/types.ts'
import { listenTunnel, TunnelSet } from './local.ts'
import { makeShell, quote, settle } from './shell.ts'
import type { ExecOptions, ExecResult, Transport, Tunnel, WriteFileOptions } from './types.ts'
import { openClient, type SshTarget } from './ssh-connect.ts'
import type { SshContext } from './ssh-errors.ts'
import { SshFiles } from './ssh-files.ts'
import { killGroupCommand, reportPid, splitPid } from './remote-commands.ts'

export type { SshTarget } from './ssh-connect.ts'

/** `sudo -n` (never prompt: a prompt would hang a fan-out) around one shell command. */
export const wrapSudo = (command: string): string => `sudo -n -- sh -c ${quote(command)}`

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
    this.$ = makeShell((cmd, o) => this.exec(cmd, o))
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

  /** Run a command and collect its output as bytes; never throws. A timed-out command is killed (reportPid). */
  run(command: string, opts: { input?: string | Buffer; timeoutMs?: number; sudo?: boolean } = {}): Promise<RawRun> {
    const started = Date.now()
    const timeoutMs = opts.timeoutMs ?? this.settings.commandTimeoutMs
    const sent = timeoutMs > 0 ? reportPid(command) : command
    return new Promise((resolve) => {
      const failed = (why: string) =>
        resolve({ exitCode: null, signal: null, stdout: Buffer.alloc(0), stderr: Buffer.from(why), durationMs: Date.now() - started, timedOut: false, failure: why })
      if (this.closed) return failed(`the SSH connection to ${this.host} is closed`)
      try {
        this.client.exec(sent, (err, ch) => {
          if (err) return failed(`cannot start a command on ${this.host}: ${err.message}`)
          const out: Buffer[] = []
          const errOut: Buffer[] = []
          let exitCode: number | null = null
          let signal: string | null = null
          let timedOut = false
          let done = false
          const finish = () => {
            if (done) return
            done = true
            if (timer) clearTimeout(timer)
            const { rest } = splitPid(Buffer.concat(errOut))
            resolve({ exitCode, signal: timedOut ? 'TIMEOUT' : signal, stdout: Buffer.concat(out), stderr: rest, durationMs: Date.now() - started, timedOut })
          }
          const timer =
            timeoutMs > 0
              ? setTimeout(() => {
                  timedOut = true
                  const { pid } = splitPid(Buffer.concat(errOut))
                  ch.signal('KILL')
                  ch.close()
                  if (pid) void this.killGroup(pid, !!opts.sudo)
                  // Do not wait for a host that does not answer any more.
                  setTimeout(finish, 1000).unref()
                }, timeoutMs)
              : undefined
          ch.on('data', (d: Buffer) => out.push(d))
          ch.stderr.on('data', (d: Buffer) => errOut.push(d))
          ch.on('exit', (code: number | null, sig?: string) => {
            exitCode = code ?? null
            signal = sig ? `SIG${sig}` : null
          })
          ch.on('close', finish)
          ch.on('error', () => {})
          ch.end(opts.input ?? undefined)
        })
      } catch (e) {
        failed(`cannot start a command on ${this.host}: ${(e as Error).message}`)
      }
    })
  }

  /** Kill a timed-out command's process group (sshd makes each session's shell a group leader). */
  private async killGroup(pid: number, sudo: boolean): Promise<void> {
    const kill = killGroupCommand(pid)
    await this.run(sudo ? wrapSudo(kill) : kill, { timeoutMs: 0 }).catch(() => {})
  }

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const full = (opts.sudo ?? this.settings.sudo) ? wrapSudo(command) : command
    const r = await this.run(full, { input: opts.input, timeoutMs: opts.timeoutMs, sudo: opts.sudo ?? this.settings.sudo })
    return settle(
      {
        host: this.host,
        command: full,
        exitCode: r.exitCode,
        signal: r.signal,
        stdout: r.stdout.toString('utf8'),
        stderr: r.stderr.toString('utf8'),
        durationMs: r.durationMs,
        ok: r.exitCode === 0 && !r.timedOut && !r.failure,
      },
      opts,
    )
  }

  /** A raw channel for a command (used for streaming files under sudo). */
  openExec(command: string): Promise<ClientChannel> {
    return new Promise((resolve, reject) =>
      this.client.exec(command, (err, ch) => (err ? reject(this.channelError(err, `run ${command}`)) : resolve(ch))),
    )
  }

  private sftpSession?: Promise<SFTPWrapper>
  sftp(): Promise<SFTPWrapper> {
    this.sftpSession ??= new Promise<SFTPWrapper>((resolve, reject) =>
      this.client.sftp((err, s) => (err ? reject(this.channelError(err, 'open an SFTP session')) : resolve(s))),
    ).catch((e) => {
      this.sftpSession = undefined
      throw e
    })
    return this.sftpSession
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

  private async tunnel(open: () => Promise<ClientChannel>): Promise<Tunnel> {
    return this.tunnels.track(await listenTunnel(open))
  }

  forward(targetHost: string, targetPort: number): Promise<Tunnel> {
    return this.tunnel(() => this.openForward(targetHost, targetPort))
  }
  forwardUnix(socketPath: string): Promise<Tunnel> {
    return this.tunnel(() => this.openUnixForward(socketPath))
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
  rename(from: string, to: string) {
    return this.files.rename(from, to)
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
