// The one interface every way of reaching a host implements: ssh, local, docker-exec.
import type { Duplex } from 'node:stream'
import type { ProcessPromise } from 'zx'
// Runbooks get a Transport from their context, so a test can hand them a scripted one or a real one.

export interface ExecOptions {
  /** Written to the command's stdin. */
  input?: string | Buffer
  /** Kill the command after this long; the result then has signal 'TIMEOUT'. */
  timeoutMs?: number
  /** Return a failed result instead of throwing. */
  nothrow?: boolean
  /** Run under `sudo -n` (the inventory decides by default). */
  sudo?: boolean
  /** What dr was doing, for the error message ("inspect the etcd container"). */
  doing?: string
}

export interface ExecResult {
  host: string
  command: string
  exitCode: number | null
  signal: string | null
  stdout: string
  stderr: string
  durationMs: number
  ok: boolean
}

/**
 * A TCP tunnel: a listener on 127.0.0.1 of this machine. Any local user can connect to it, so dr opens one only
 * for a service that authenticates its clients itself over TLS (etcd with client certificates, kube-apiserver);
 * the docker socket is reached with openStream, which has no listener at all.
 */
export interface Tunnel {
  /** A port on 127.0.0.1 of this machine that reaches the target. */
  readonly localPort: number
  close(): Promise<void>
}

export interface WriteFileOptions {
  mode?: number
  /** Finish (or resolve) only once the bytes are on the host's disk: fsynced, not only written. */
  durable?: boolean
}

export interface RenameOptions {
  /** Resolve only once the new name is on the host's disk: the directory holding it fsynced after the rename. */
  durable?: boolean
}

export interface Transport {
  /** The host's inventory name, used in messages and journals. */
  readonly host: string
  readonly kind: 'ssh' | 'local' | 'docker-exec'
  /** Run one shell command (already quoted). Throws a CommandError unless nothrow. */
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>
  /** zx-style tagged template: interpolations are shell-quoted; arrays become several words. */
  readonly $: RemoteShell
  readFile(path: string): Promise<Buffer>
  writeFile(path: string, data: string | Buffer, opts?: WriteFileOptions): Promise<void>
  createReadStream(path: string): Promise<NodeJS.ReadableStream>
  createWriteStream(path: string, opts?: WriteFileOptions): Promise<NodeJS.WritableStream>
  /** rename(2): replaces `to`. */
  rename(from: string, to: string, opts?: RenameOptions): Promise<void>
  unlink(path: string): Promise<void>
  /** Directory entries (names only); missing directory → []. */
  readdir(path: string): Promise<string[]>
  mkdir(path: string, opts?: { mode?: number }): Promise<void>
  /**
   * A TCP tunnel from a local port to targetHost:targetPort as seen from this host. Only for services that carry
   * TLS with client authentication end to end (etcd, kube-apiserver): the local port is open to any local user.
   */
  forward(targetHost: string, targetPort: number): Promise<Tunnel>
  /**
   * A command on the host as a byte stream, no listener anywhere: its stdin is what is written, its stdout what is
   * read (`docker system dial-stdio` reaches the docker socket this way, under sudo when the inventory says so).
   * A failure to start, or a non-zero exit, destroys the stream with a DrError naming the command and its stderr.
   */
  openStream(argv: string[], opts?: { sudo?: boolean }): Promise<Duplex>
  close(): Promise<void>
}

export type RemoteShell = ((pieces: TemplateStringsArray, ...args: unknown[]) => ShellPromise) & {
  /** Options for the next commands: `host.$.with({ timeoutMs: 5000 })\`…\`` */
  with(opts: ExecOptions): RemoteShell
}

/** A running command: dr's result as a promise, over zx's ProcessPromise (`.process`). */
export interface ShellPromise extends Promise<ExecResult> {
  /** Resolve with the failed result instead of rejecting. */
  nothrow(): ShellPromise
  /** Resolve with trimmed stdout. */
  text(): Promise<string>
  /** Resolve with stdout's non-empty lines. */
  lines(): Promise<string[]>
  /** Resolve with parsed JSON stdout. */
  json<T = unknown>(): Promise<T>
  /** zx's quiet: do not log this command's output even under ZX_VERBOSE. */
  quiet(v?: boolean): ShellPromise
  /** zx's pipe: stdout into a stream, a file, or a local command (`.pipe\`gzip\``). */
  readonly pipe: ProcessPromise['pipe']
  /** The live stdout stream. */
  readonly stdout: ProcessPromise['stdout']
  /** Kill the command and its process group on the host. */
  kill(): void
  /** zx's own ProcessPromise underneath. */
  readonly process: ProcessPromise
}
