// A container on this machine as a host (kind nodes): commands through `docker exec`, files through `cat`,
// tunnels straight to the container's IP on its docker network (reachable from the docker host).
import { spawn } from 'node:child_process'
import net from 'node:net'
import { Duplex, PassThrough, Writable } from 'node:stream'
import { DrError } from '../core/error.ts'
import { listenTunnel, runLocal, TunnelSet } from './local.ts'
import { makeShell, quote, settle } from './shell.ts'
import { killGroupCommand, listDirCommand, parseNulList, reportPid, splitPid, writeFileCommand } from './remote-commands.ts'
import type { ExecOptions, ExecResult, Transport, Tunnel, WriteFileOptions } from './types.ts'

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
    this.$ = makeShell((cmd, o) => this.exec(cmd, o))
  }

  private argv(command: string, interactive = true): string[] {
    // sh, not bash: every image has it (kind nodes, busybox), and quote() is POSIX.
    return [this.docker, 'exec', ...(interactive ? ['-i'] : []), this.container, 'sh', '-c', command]
  }

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const full = opts.sudo ? `sudo -n -- sh -c ${quote(command)}` : command
    const timed = (opts.timeoutMs ?? 0) > 0
    const r = await runLocal(this.argv(timed ? reportPid(full) : full), { ...opts, host: this.host })
    const { pid, rest } = splitPid(Buffer.from(r.stderr))
    // Killing the docker client does not stop the command inside the container.
    if (r.signal === 'TIMEOUT' && pid) await runLocal(this.argv(killGroupCommand(pid), false))
    return settle({ ...r, command: full, stderr: rest.toString('utf8') }, opts)
  }

  /** Binary-safe run (runLocal decodes stdout as UTF-8). */
  private collect(command: string, input?: string | Buffer): Promise<Collected> {
    return new Promise((resolve) => {
      const argv = this.argv(command)
      const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] })
      const out: Buffer[] = []
      let err = ''
      child.stdout.on('data', (d: Buffer) => out.push(d))
      child.stderr.on('data', (d: Buffer) => (err += d.toString()))
      child.stdin.on('error', () => {})
      child.stdin.end(input ?? '')
      child.on('error', (e) => resolve({ code: 127, stdout: Buffer.alloc(0), stderr: e.message }))
      child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err }))
    })
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
    return this.must(`cat -- ${quote(path)}`, `read ${path}`)
  }
  async writeFile(path: string, data: string | Buffer, opts: WriteFileOptions = {}) {
    await this.must(writeFileCommand(path, opts.mode ?? 0o600), `write ${path}`, data)
  }
  async createReadStream(path: string): Promise<NodeJS.ReadableStream> {
    await this.must(`test -r ${quote(path)}`, `read ${path}`)
    const argv = this.argv(`cat -- ${quote(path)}`)
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] })
    const out = new PassThrough()
    child.stdout.pipe(out)
    child.on('close', (code) => code !== 0 && out.destroy(new Error(`cat exited with ${code}`)))
    return out
  }
  async createWriteStream(path: string, opts: WriteFileOptions = {}): Promise<NodeJS.WritableStream> {
    const argv = this.argv(writeFileCommand(path, opts.mode ?? 0o600))
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
  async rename(from: string, to: string) {
    await this.must(`mv -f -- ${quote(from)} ${quote(to)}`, `rename ${from}`)
  }
  async unlink(path: string) {
    await this.must(`rm -- ${quote(path)}`, `remove ${path}`)
  }
  async readdir(path: string) {
    return parseNulList(await this.must(listDirCommand(path), `list ${path}`))
  }
  async mkdir(path: string, opts: { mode?: number } = {}) {
    await this.must(`mkdir -p -m ${(opts.mode ?? 0o700).toString(8)} -- ${quote(path)}`, `create ${path}`)
  }

  /** The container's IPs on its docker networks (`docker inspect` output is untrusted: parsed, never run). */
  async containerIps(): Promise<string[]> {
    const r = await runLocal([this.docker, 'inspect', '--format', '{{json .NetworkSettings.Networks}}', this.container])
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

  /** Each connection runs `socat` inside the container, which must have it (kind node images do not). */
  async forwardUnix(socketPath: string): Promise<Tunnel> {
    const has = await this.collect('command -v socat')
    if (has.code !== 0)
      throw new DrError({
        code: 'docker-exec.no-socat',
        host: this.host,
        message: `${this.host}: cannot tunnel to ${socketPath}: container ${this.container} has no socat`,
        hint: `run the command inside the container instead (\`docker exec ${this.container} …\`), or install socat in it`,
      })
    return this.tunnels.track(
      await listenTunnel(async () => {
        const argv = [this.docker, 'exec', '-i', this.container, 'socat', 'STDIO', `UNIX-CONNECT:${socketPath}`]
        const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'ignore'] })
        const duplex = Duplex.from({ readable: child.stdout, writable: child.stdin })
        duplex.on('close', () => child.kill())
        return duplex
      }),
    )
  }

  async close() {
    await this.tunnels.closeAll()
  }
}
