// The local machine as a host: commands run through zx's `$` under bash, files are the local filesystem.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import net from 'node:net'
import { Duplex } from 'node:stream'
import { $ as zx, type ProcessPromise } from 'zx'
import { DrError } from '../core/error.ts'
import nodePath from 'node:path'
import { fsyncDir } from '../core/durable.ts'
import type { ExecOptions, ExecResult, RemoteShell, RenameOptions, Transport, Tunnel, WriteFileOptions } from './types.ts'
import { execWith, literal, makeShell, type ShellRunner } from './shell.ts'

/**
 * zx on this machine: bash, and each command a process-group leader (`detached`), so that a timeout kills the
 * command and everything it started (zx's kill signals the group and the process tree).
 */
export function localRunner(host = 'local'): ShellRunner {
  return {
    host,
    options: () => ({ shell: 'bash', detached: true, spawn: spawnQuietStdin as never }),
    shown: (command) => command,
    kill: (p: ProcessPromise) => killLocal(p),
  }
}

/** child_process.spawn, with stdin errors ignored: zx writes the input, and a command may exit before reading it. */
function spawnQuietStdin(...args: Parameters<typeof spawn>): ReturnType<typeof spawn> {
  const child = spawn(...args)
  child.stdin?.on('error', () => {})
  return child
}

function killLocal(p: ProcessPromise): void {
  if (p.stage === 'fulfilled' || p.stage === 'rejected') return
  if (!p.pid) {
    setTimeout(() => killLocal(p), 20).unref() // not spawned yet (zx starts the process on the next tick)
    return
  }
  // zx's kill throws only when the process has just finished: nothing is left to kill then.
  void p.kill('SIGKILL').catch(() => undefined)
}

const localShell = makeShell(localRunner())

/**
 * Run a command on this machine through zx's `$` (a string is bash; an argv array is quoted word by word) and
 * collect the result; never throws for a non-zero exit.
 */
export function runLocal(command: string | string[], opts: ExecOptions & { host?: string } = {}): Promise<ExecResult> {
  const shell: RemoteShell = opts.host ? makeShell(localRunner(opts.host)) : localShell
  const $ = shell.with({ ...opts, nothrow: true })
  return Array.isArray(command) ? $`${command}` : $(literal(command))
}

/** Run argv through zx and keep stdout as bytes (zx's own output text is decoded as UTF-8). */
export async function runLocalBytes(argv: string[], input?: string | Buffer): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  const store = { stdout: [] as Buffer[], stderr: [] as Buffer[], stdall: [] as Buffer[] }
  const out = await zx({ store, spawn: spawnQuietStdin as never, shell: 'bash', prefix: '', postfix: '', nothrow: true, quiet: true, input: Buffer.from(input ?? '') })`${argv}`
  const stderr = Buffer.concat(store.stderr).toString('utf8') || (out.cause ? String((out.cause as Error).message) : '')
  return { code: out.exitCode, stdout: Buffer.concat(store.stdout), stderr }
}

/**
 * A local process as a byte stream (stdin ← writes, stdout → reads). child_process, not zx: zx's ProcessPromise
 * exposes no duplex of the process's own pipes, and this one is a transport for bytes (HTTP), not a command.
 */
export function spawnStream(argv: string[], host: string): Duplex {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)))
  child.stdin.on('error', () => {}) // the process may exit first; its exit status says why
  const duplex = new Duplex({
    write: (chunk, _enc, cb) => void child.stdin.write(chunk, () => cb()),
    final: (cb) => {
      child.stdin.end()
      cb()
    },
    read: () => void child.stdout.resume(),
    destroy: (err, cb) => {
      // A byte proxy holds no state of its own: SIGKILL (the docker CLI ignores SIGTERM while it proxies).
      child.kill('SIGKILL')
      cb(err)
    },
  })
  child.stdout.on('data', (d: Buffer) => duplex.push(d) || child.stdout.pause())
  const fail = (why: string) =>
    duplex.destroy(new DrError({ code: 'transport.stream-failed', host, message: `${host}: ${argv.join(' ')} ${why}`, command: argv.join(' '), stderr: stderr.trim(), hint: 'is the command installed there, and may this user run it?' }))
  child.on('error', (e) => fail(`could not start: ${e.message}`))
  child.on('close', (code) => (code === 0 || code === null ? duplex.push(null) : fail(`exited with status ${code}`)))
  return duplex
}

/** A free TCP port on 127.0.0.1 (for a local listener or a throwaway server). */
export async function freeLoopbackPort(): Promise<number> {
  return (await freeLoopbackPorts(1))[0]
}

/**
 * `n` distinct ports free on 127.0.0.1 now: all are held at once while they are picked (picked one after another,
 * the kernel may hand out the same port twice). Another process can still take one before the caller binds it.
 */
export async function freeLoopbackPorts(n: number): Promise<number[]> {
  const servers: net.Server[] = []
  try {
    const ports: number[] = []
    for (let i = 0; i < n; i++) {
      const s = net.createServer()
      servers.push(s)
      ports.push(
        await new Promise<number>((resolve, reject) => {
          s.once('error', reject)
          s.listen(0, '127.0.0.1', () => resolve((s.address() as net.AddressInfo).port))
        }),
      )
    }
    return ports
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => (s.listening ? s.close(() => r()) : r()))))
  }
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
    this.$ = makeShell(localRunner(host))
  }
  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return execWith(this.$, command, opts)
  }
  readFile(path: string) {
    return fsp.readFile(path)
  }
  async writeFile(path: string, data: string | Buffer, opts: WriteFileOptions = {}) {
    await fsp.writeFile(path, data, { mode: opts.mode ?? 0o600, flush: opts.durable ?? false })
    if (opts.mode !== undefined) await fsp.chmod(path, opts.mode)
  }
  async createReadStream(path: string) {
    return fs.createReadStream(path)
  }
  async createWriteStream(path: string, opts: WriteFileOptions = {}) {
    return fs.createWriteStream(path, { mode: opts.mode ?? 0o600, flush: opts.durable ?? false })
  }
  async rename(from: string, to: string, opts: RenameOptions = {}) {
    await fsp.rename(from, to)
    if (opts.durable) await fsyncDir(nodePath.dirname(to))
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
  async openStream(argv: string[]) {
    return spawnStream(argv, this.host)
  }
  async close() {}
}
