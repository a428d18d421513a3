// A container on this machine as a host (kind nodes): commands through zx's `$` whose spawn is `docker exec`, files
// through `cat`, tunnels straight to the container's IP on its docker network (reachable from the docker host).
import { spawn } from 'node:child_process'
import net from 'node:net'
import { PassThrough, Writable, type Duplex } from 'node:stream'
import type { ProcessPromise } from 'zx'
import { DrError } from '../core/error.ts'
import { listenTunnel, runLocal, runLocalBytes, spawnStream, TunnelSet } from './local.ts'
import { execWith, makeShell, type ShellRunner } from './shell.ts'
import { shQuote } from './sh-quote.ts'
import { killGroupCommand, RemoteChild, REPORT_PID } from './remote-child.ts'
import { listDirCommand, parseNulList, renameCommand, writeFileCommand } from './remote-commands.ts'
import type { ExecOptions, ExecResult, RenameOptions, Transport, Tunnel, WriteFileOptions } from './types.ts'

// zx's quote writes bash's `$'…'`: run bash where the image has it (kind nodes do); busybox's sh reads `$'…'` too.
const BASH_OR_SH = 'if command -v bash >/dev/null 2>&1; then exec bash -c "$1"; fi; exec sh -c "$1"'

interface Collected {
  code: number | null
  stdout: Buffer
  stderr: string
}

export class DockerExecTransport implements Transport {
  readonly kind = 'docker-exec' as const
  readonly $
  private readonly tunnels = new TunnelSet()

  constructor(
    readonly host: string,
    readonly container: string,
    /** The address the inventory gives; used for tunnels when the container's IP cannot be read. */
    readonly address?: string,
    private readonly docker = 'docker',
  ) {
    this.$ = makeShell(this.runner())
  }

  /** `docker exec` argv that runs one command line under bash (or sh) in the container. */
  private argv(line: string, interactive = true): string[] {
    return [this.docker, 'exec', ...(interactive ? ['-i'] : []), this.container, 'sh', '-c', BASH_OR_SH, 'dr', line]
  }

  private runner(): ShellRunner {
    const wrap = (command: string, o: ExecOptions) => (o.sudo ? `sudo -n -- bash -c ${shQuote(command)}` : command)
    return {
      host: this.host,
      options: (o) => ({ shell: 'bash', spawn: ((command: string) => this.spawn(wrap(command, o))) as never }),
      shown: wrap,
      kill: (p) => killRemote(p),
    }
  }

  /** zx's spawn: a local `docker exec` client whose command reports its PID (killing the client leaves it running). */
  private spawn(command: string): RemoteChild {
    return new RemoteChild(
      async () => {
        const argv = this.argv(REPORT_PID + command)
        // The docker client is this command's pipe to the container; zx owns the command, this is its transport.
        const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] })
        return {
          stdin: child.stdin,
          stdout: child.stdout,
          stderr: child.stderr,
          onExit: (cb) => child.on('exit', (code, sig) => cb(code, sig)),
          onClose: (cb) => child.on('close', () => cb()),
          abort: () => child.kill('SIGKILL'),
        }
      },
      async (pid) => void (await runLocal(this.argv(killGroupCommand(pid), false))),
    )
  }

  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return execWith(this.$, command, opts)
  }

  /** Binary-safe run (zx's output text is decoded as UTF-8). */
  private collect(command: string, input?: string | Buffer): Promise<Collected> {
    return runLocalBytes(this.argv(command), input)
  }

  private async must(command: string, doing: string, input?: string | Buffer): Promise<Buffer> {
    const r = await this.collect(command, input)
    if (r.code !== 0)
      throw new DrError({
        code: /No such file/i.test(r.stderr) ? 'file.not-found' : /No such container|is not running/i.test(r.stderr) ? 'docker-exec.no-container' : 'file.failed',
        host: this.host,
        doing,
        message: `${this.host}: cannot ${doing} in container ${this.container}`,
        command,
        exitStatus: r.code,
        stderr: r.stderr,
        hint: /No such container|is not running/i.test(r.stderr) ? `start the container ${this.container} (docker ps -a)` : 'check the path inside the container',
      })
    return r.stdout
  }

  readFile(path: string) {
    return this.must(`cat -- ${shQuote(path)}`, `read ${path}`)
  }
  async writeFile(path: string, data: string | Buffer, opts: WriteFileOptions = {}) {
    await this.must(writeFileCommand(path, opts.mode ?? 0o600, opts.durable), `write ${path}`, data)
  }
  // The two file streams spawn `docker exec` with child_process: zx keeps every chunk of a command's output in
  // memory, and a snapshot is gigabytes.
  async createReadStream(path: string): Promise<NodeJS.ReadableStream> {
    await this.must(`test -r ${shQuote(path)}`, `read ${path}`)
    const argv = this.argv(`cat -- ${shQuote(path)}`)
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] })
    const out = new PassThrough()
    child.stdout.pipe(out)
    child.on('close', (code) => code !== 0 && out.destroy(new Error(`cat exited with ${code}`)))
    return out
  }
  async createWriteStream(path: string, opts: WriteFileOptions = {}): Promise<NodeJS.WritableStream> {
    const argv = this.argv(writeFileCommand(path, opts.mode ?? 0o600, opts.durable))
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'ignore', 'pipe'] })
    let err = ''
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    const done = new Promise<void>((resolve, reject) =>
      child.on('close', (code) => (code === 0 ? resolve() : reject(new DrError({ code: 'file.failed', host: this.host, message: `${this.host}: cannot write ${path}`, stderr: err })))),
    )
    done.catch(() => {})
    return new Writable({
      write: (chunk, _e, cb) => (child.stdin.write(chunk) ? cb() : child.stdin.once('drain', () => cb())),
      final: (cb) => {
        child.stdin.end()
        done.then(() => cb(), cb)
      },
    })
  }
  async rename(from: string, to: string, opts: RenameOptions = {}) {
    await this.must(renameCommand(from, to, opts.durable), `rename ${from}`)
  }
  async unlink(path: string) {
    await this.must(`rm -- ${shQuote(path)}`, `remove ${path}`)
  }
  async readdir(path: string) {
    return parseNulList(await this.must(listDirCommand(path), `list ${path}`))
  }
  async mkdir(path: string, opts: { mode?: number } = {}) {
    await this.must(`mkdir -p -m ${(opts.mode ?? 0o700).toString(8)} -- ${shQuote(path)}`, `create ${path}`)
  }

  /** The container's IPs on its docker networks (`docker inspect` output is untrusted: parsed, never run). */
  async containerIps(): Promise<string[]> {
    const r = await runLocal([this.docker, 'inspect', '--format', '{{json .NetworkSettings.Networks}}', this.container])
    // No container, or output that is not JSON: no IP, and forward() falls back to the inventory's address.
    if (r.exitCode !== 0) return []
    try {
      const nets = JSON.parse(r.stdout) as Record<string, { IPAddress?: string }>
      return Object.values(nets).map((n) => n.IPAddress ?? '').filter((ip) => net.isIP(ip) !== 0)
    } catch {
      return []
    }
  }

  /**
   * A port "on the host" is a port on the container: loopback targets are reached at the container's IP on its
   * docker network, which this machine can route to. (A service bound to the container's 127.0.0.1 only is not
   * reachable this way; kind's etcd and apiserver listen on the node IP too.)
   */
  async forward(targetHost: string, targetPort: number): Promise<Tunnel> {
    const local = targetHost === '127.0.0.1' || targetHost === 'localhost' || targetHost === '::1'
    const ip = local ? ((await this.containerIps())[0] ?? this.address) : targetHost
    if (!ip)
      throw new DrError({ code: 'docker-exec.no-address', host: this.host, message: `${this.host}: container ${this.container} has no IP address`, hint: 'is the container running? (docker ps)' })
    return this.tunnels.track(await listenTunnel(() => net.connect(targetPort, ip)))
  }

  /** A command in the container as a byte stream (`docker exec -i`), e.g. `docker system dial-stdio`. */
  async openStream(argv: string[], opts: { sudo?: boolean } = {}): Promise<Duplex> {
    return spawnStream([this.docker, 'exec', '-i', this.container, ...(opts.sudo ? ['sudo', '-n', '--'] : []), ...argv], this.host)
  }

  async close() {
    await this.tunnels.closeAll()
  }
}

/** Kill a command in the container: its RemoteChild kills the process group there (never a local kill). */
function killRemote(p: ProcessPromise): void {
  if (p.stage === 'fulfilled' || p.stage === 'rejected') return
  const child = p.child as unknown as RemoteChild | undefined
  if (child) child.kill('SIGKILL')
  else setTimeout(() => killRemote(p), 20).unref() // zx spawns on the next tick
}
