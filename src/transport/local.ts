// The local machine as a host: commands run under bash, files are the local filesystem.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import net from 'node:net'
import type { ExecOptions, ExecResult, Transport, Tunnel, WriteFileOptions } from './types.ts'
import { makeShell, settle } from './shell.ts'

/** Run `bash -c command` (or argv directly) and collect the result; never throws for a non-zero exit. */
export function runLocal(
  command: string | string[],
  opts: ExecOptions & { host?: string; wrap?: (cmd: string) => string[] } = {},
): Promise<ExecResult> {
  const argv = Array.isArray(command) ? command : opts.wrap ? opts.wrap(command) : ['bash', '-c', command]
  const shown = Array.isArray(command) ? command.join(' ') : command
  const started = Date.now()
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    let timedOut = false
    const timer =
      opts.timeoutMs && opts.timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true
            child.kill('SIGKILL')
          }, opts.timeoutMs)
        : undefined
    child.stdout.on('data', (d: Buffer) => out.push(d))
    child.stderr.on('data', (d: Buffer) => err.push(d))
    child.stdin.on('error', () => {}) // the command may exit before reading its input
    child.stdin.end(opts.input ?? '')
    const finish = (code: number | null, signal: string | null, extraErr = '') => {
      if (timer) clearTimeout(timer)
      resolve({
        host: opts.host ?? 'local',
        command: shown,
        exitCode: code,
        signal: timedOut ? 'TIMEOUT' : signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8') + extraErr,
        durationMs: Date.now() - started,
        ok: code === 0 && !timedOut,
      })
    }
    child.on('error', (e) => finish(127, null, String(e.message)))
    child.on('close', (code, signal) => finish(code, signal))
  })
}

/** A free TCP port on 127.0.0.1 (for a local listener or a throwaway server). */
export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}

/** A tunnel is a local listener that pipes each connection to `connect()`. */
export function listenTunnel(connect: () => net.Socket | Promise<NodeJS.ReadWriteStream>): Promise<Tunnel> {
  return new Promise((resolve, reject) => {
    const sockets = new Set<net.Socket>()
    const server = net.createServer(async (sock) => {
      sockets.add(sock)
      sock.on('close', () => sockets.delete(sock))
      try {
        const upstream = await connect()
        sock.pipe(upstream as NodeJS.WritableStream)
        ;(upstream as NodeJS.ReadableStream).pipe(sock)
        const end = () => sock.destroy()
        ;(upstream as NodeJS.EventEmitter).on('error', end)
        ;(upstream as NodeJS.EventEmitter).on('close', end)
        // Either side closing ends the other: a tunnel must not keep a finished connection (or dr) alive.
        const destroyUpstream = () => (upstream as unknown as { destroy?: () => void }).destroy?.()
        sock.on('error', destroyUpstream)
        sock.on('close', destroyUpstream)
      } catch {
        sock.destroy()
      }
    })
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address() as net.AddressInfo
      resolve({
        localPort: addr.port,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy()
            server.close(() => r())
          }),
      })
    })
  })
}

/** The tunnels a transport opened, so closing the transport closes them all. */
export class TunnelSet {
  private readonly open = new Set<Tunnel>()
  track(t: Tunnel): Tunnel {
    const tracked: Tunnel = {
      localPort: t.localPort,
      close: async () => {
        this.open.delete(tracked)
        await t.close()
      },
    }
    this.open.add(tracked)
    return tracked
  }
  async closeAll() {
    await Promise.all([...this.open].map((t) => t.close()))
  }
}

export class LocalTransport implements Transport {
  readonly kind = 'local' as const
  readonly $
  constructor(readonly host = 'local') {
    this.$ = makeShell((cmd, o) => this.exec(cmd, o))
  }
  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return settle(await runLocal(command, { ...opts, host: this.host }), opts)
  }
  readFile(path: string) {
    return fsp.readFile(path)
  }
  async writeFile(path: string, data: string | Buffer, opts: WriteFileOptions = {}) {
    await fsp.writeFile(path, data, { mode: opts.mode ?? 0o600 })
    if (opts.mode !== undefined) await fsp.chmod(path, opts.mode)
  }
  async createReadStream(path: string) {
    return fs.createReadStream(path)
  }
  async createWriteStream(path: string, opts: WriteFileOptions = {}) {
    return fs.createWriteStream(path, { mode: opts.mode ?? 0o600 })
  }
  rename(from: string, to: string) {
    return fsp.rename(from, to)
  }
  unlink(path: string) {
    return fsp.unlink(path)
  }
  async readdir(path: string) {
    try {
      return await fsp.readdir(path)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw e
    }
  }
  async mkdir(path: string, opts: { mode?: number } = {}) {
    await fsp.mkdir(path, { recursive: true, mode: opts.mode ?? 0o700 })
  }
  forward(targetHost: string, targetPort: number) {
    return listenTunnel(() => net.connect(targetPort, targetHost))
  }
  forwardUnix(socketPath: string) {
    return listenTunnel(() => net.connect(socketPath))
  }
  async close() {}
}
