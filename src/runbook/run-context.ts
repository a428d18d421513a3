// What an operator's runbook (`dr run FILE`) gets: the inventory, a `$` per host, an etcd client per member, the
// Kubernetes client, its arguments, and zx's local `$` — everything opened lazily and closed when the run ends.
import path from 'node:path'
import { $ as local$ } from 'zx'
import { DrError, type ExitCodeName } from '../core/error.ts'
import type { Output } from '../core/output.ts'
import { connectMember, type MemberConnection, type TransportSource } from '../etcd/client.ts'
import { connectKube, type KubeConnection } from '../kube/client.ts'
import { hostPath, type Inventory, type Role } from '../inventory/types.ts'
import type { Transport } from '../transport/types.ts'
import { inspectContainer, type ContainerInspect } from '../container/inspect.ts'
import { recreateContainer, type RecreateOptions, type RecreateResult } from '../container/recreate.ts'

/** What a finished command looks like to a runbook, whatever the transport's `$` returns. */
export interface HostResult {
  host: string
  ok: boolean
  exitCode: number | null
  stdout: string
  stderr: string
}

/** `on('master3')\`cmd\``: a promise of the command's result with zx's `.nothrow()`, `.text()`, `.json()`. */
export interface LazyShellPromise<T> extends Promise<T> {
  nothrow(): LazyShellPromise<T>
  text(): Promise<T extends unknown[] ? string[] : string>
  json<J = unknown>(): Promise<T extends unknown[] ? J[] : J>
}

type Tag<T> = ((pieces: TemplateStringsArray, ...args: unknown[]) => LazyShellPromise<T>) & {
  /** Options for the next commands, passed to the transport's `$.with(...)`. */
  with(opts: Record<string, unknown>): Tag<T>
}

export type HostShell = Tag<Awaited<ReturnType<Transport['$']>>> & {
  readonly host: string
  transport(): Promise<Transport>
  readFile(file: string): Promise<Buffer>
  /** durable: resolves once the bytes are on the host's disk (fsynced). */
  writeFile(file: string, data: string | Buffer, opts?: { mode?: number; durable?: boolean }): Promise<void>
}
export type GroupShell = Tag<HostResult[]> & { readonly hosts: string[] }

export interface RunContextInit {
  inv: Inventory
  /** Where transports come from; the engine hands its own in before the run (useConnections). */
  conns?: TransportSource
  out: Output
  argv: string[]
  file: string
  name: string
}

export interface ErrorSpec {
  code: string
  message: string
  host?: string
  hint?: string
  /** Exit code name (README): 'failed' (1, default), 'refused' (3), 'unverified' (4), 'problems' (5). */
  exit?: ExitCodeName
}

const asResult = (host: string, r: any): HostResult => ({
  host,
  ok: r?.ok ?? r?.exitCode === 0,
  exitCode: r?.exitCode ?? null,
  stdout: String(r?.stdout ?? ''),
  stderr: String(r?.stderr ?? ''),
})

function lazy<T>(run: (nothrow: boolean) => Promise<T>, text: (r: T) => unknown, json: (r: T) => unknown): LazyShellPromise<T> {
  let nothrow = false
  // Start on the next tick, so `.nothrow()` can be called first (zx's shape).
  const p = new Promise<T>((resolve, reject) => queueMicrotask(() => run(nothrow).then(resolve, reject))) as LazyShellPromise<T>
  p.nothrow = () => ((nothrow = true), p)
  p.text = () => p.then(text) as never
  p.json = () => p.then(json) as never
  return p
}

function parseJson(r: HostResult): unknown {
  try {
    return JSON.parse(r.stdout)
  } catch (e) {
    throw new DrError({ code: 'command.bad-json', message: `command on ${r.host} did not print JSON`, host: r.host, stderr: r.stdout.slice(0, 500), cause: e })
  }
}

export class RunContext {
  readonly inv: Inventory
  readonly out: Output
  /** The arguments after `--`, as given. */
  readonly argv: string[]
  /** The same, parsed by zx's minimist (camelCase keys): `-- --host master3 --days 30` → { host, days }. */
  readonly args: Record<string, any>
  /** zx's `$` on this machine (the operator's): `await $\`openssl x509 -in ${file} -noout -enddate\``. */
  readonly $ = local$
  /** The runbook file and its name (`run-<basename>`, used for the journal and the lock). */
  readonly file: string
  readonly name: string
  /** A directory of this runbook's own under the cluster's state directory, for files a resumed run needs. */
  readonly stateDir: string
  /** What `assess` returned (undefined until it has run). */
  facts: any
  private conns: TransportSource
  private readonly members = new Map<string, Promise<MemberConnection>>()
  private readonly kubes = new Map<string, Promise<KubeConnection>>()

  constructor(o: RunContextInit, parseArgv: (a: string[]) => Record<string, any>) {
    this.inv = o.inv
    this.out = o.out
    this.conns = o.conns ?? {
      get: () => Promise.reject(new DrError({ code: 'bug', message: 'the runbook used a host before the run started', exit: 'bug' })),
    }
    this.argv = o.argv
    this.args = parseArgv(o.argv)
    this.file = o.file
    this.name = o.name
    this.stateDir = path.join(o.inv.stateDir, 'run', o.name)
    // Runbooks destructure the context (`steps({ on, etcd })`): every method works unbound.
    for (const m of ['on', 'parallel', 'etcd', 'closeEtcd', 'kube', 'useConnections', 'inspect', 'recreate'] as const) (this as any)[m] = (this as any)[m].bind(this)
  }

  /** Use the run's connections (the engine's), so every host is opened once and closed with the run. */
  useConnections(conns: TransportSource) {
    this.conns = conns
  }

  /** Host names with a role, in inventory order. */
  hostsWithRole = (role: Role): string[] => Object.values(this.inv.hosts).filter((h) => h.roles.includes(role)).map((h) => h.name)
  /** Host names in a site. */
  hostsInSite = (site: string): string[] => [...(this.inv.sites[site]?.hosts ?? [])]
  /** The etcd CA, certificate and key paths on a host (the inventory's templates filled in). */
  etcdFiles = (host: string): { ca: string; cert: string; key: string } => {
    const h = this.inv.hosts[host]
    if (!h) throw new DrError({ code: 'inventory.unknown-host', message: `host "${host}" is not in the inventory`, hint: `known hosts: ${Object.keys(this.inv.hosts).join(', ')}`, exit: 'usage' })
    return { ca: hostPath(this.inv.etcd.caFile, h), cert: hostPath(this.inv.etcd.certFile, h), key: hostPath(this.inv.etcd.keyFile, h) }
  }
  /** The transport of a host (readFile, writeFile, rename, forward …), opened once per run. */
  transport = (host: string): Promise<Transport> => this.conns.get(host)

  /** A `$` on one host, or on several at once (at most `ssh.concurrency` in parallel, results in host order). */
  on(host: string): HostShell
  on(hosts: string[]): GroupShell
  on(target: string | string[]): HostShell | GroupShell {
    return Array.isArray(target) ? this.group(target, {}) : this.single(target, {})
  }

  private single(host: string, opts: Record<string, unknown>): HostShell {
    const get = () => this.conns.get(host)
    const tag = ((pieces: TemplateStringsArray, ...args: unknown[]) =>
      lazy(
        async (nothrow) => {
          const t = await get()
          const sh = Object.keys(opts).length ? t.$.with(opts as never) : t.$
          const p = sh(pieces, ...args)
          return (await (nothrow ? p.nothrow() : p)) as Awaited<ReturnType<Transport["$"]>>
        },
        (r) => asResult(host, r).stdout.trim(),
        (r) => parseJson(asResult(host, r)),
      )) as HostShell
    Object.assign(tag, {
      host,
      with: (o: Record<string, unknown>) => this.single(host, { ...opts, ...o }),
      transport: get,
      readFile: async (file: string) => (await get()).readFile(file),
      writeFile: async (file: string, data: string | Buffer, o?: { mode?: number; durable?: boolean }) => (await get()).writeFile(file, data, o),
    })
    return tag
  }

  private group(hosts: string[], opts: Record<string, unknown>): GroupShell {
    const tag = ((pieces: TemplateStringsArray, ...args: unknown[]) =>
      lazy(
        async (nothrow) => {
          const results = await this.parallel(hosts, async (h) => asResult(h, await this.single(h, opts)(pieces, ...args).nothrow()))
          const failed = results.filter((r) => !r.ok)
          if (failed.length && !nothrow) {
            throw new DrError({
              code: 'command.failed',
              message: `command failed on ${failed.map((r) => `${r.host} (exit ${r.exitCode})`).join(', ')}`,
              host: failed[0].host,
              evidence: failed.map((r) => `${r.host}: ${r.stderr.trim().split('\n').slice(-3).join(' / ')}`),
              hint: 'add .nothrow() to get every host’s result as data',
            })
          }
          return results
        },
        (rs) => rs.map((r) => r.stdout.trim()),
        (rs) => rs.map(parseJson),
      )) as GroupShell
    Object.assign(tag, { hosts: [...hosts], with: (o: Record<string, unknown>) => this.group(hosts, { ...opts, ...o }) })
    return tag
  }

  /** Run fn for every item, at most `limit` (default ssh.concurrency) at once; results in input order. */
  async parallel<I, T>(items: readonly I[], fn: (item: I, index: number) => Promise<T>, limit = this.inv.ssh.concurrency): Promise<T[]> {
    const results: T[] = new Array(items.length)
    let next = 0
    const worker = async () => {
      while (next < items.length) {
        const i = next++
        results[i] = await fn(items[i], i)
      }
    }
    await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker))
    return results
  }

  /** The etcd3 client of one member, through an SSH tunnel with the member's own client certificate. */
  etcd(host: string, opts: { callTimeoutMs?: number } = {}): Promise<MemberConnection> {
    let p = this.members.get(host)
    if (!p) {
      p = connectMember(this.conns, this.inv, host, opts)
      this.members.set(host, p)
      p.catch(() => this.members.delete(host))
    }
    return p
  }

  /** Forget a member's client (after etcd was re-created, the old connection is dead). */
  async closeEtcd(host: string): Promise<void> {
    const p = this.members.get(host)
    this.members.delete(host)
    // Nothing to close when it never connected, or when its tunnel died with the old container.
    if (p) await p.then((m) => m.close()).catch(() => undefined)
  }

  /** The Kubernetes client (@kubernetes/client-node) through one apiserver (default: the first controlplane host). */
  kube(host = this.hostsWithRole('controlplane')[0]): Promise<KubeConnection> {
    let p = this.kubes.get(host)
    if (!p) {
      p = connectKube(this.conns, this.inv, host)
      this.kubes.set(host, p)
      p.catch(() => this.kubes.delete(host))
    }
    return p
  }

  /** `docker inspect` of a container on a host, or undefined when there is none by that name. */
  async inspect(host: string, name: string): Promise<ContainerInspect | undefined> {
    try {
      return await inspectContainer(await this.conns.get(host), name)
    } catch (e) {
      if ((e as DrError)?.code === 'container.not-found') return undefined
      throw e
    }
  }

  /**
   * Re-create a container exactly, with edits (flags, restart policy, bind mounts), keeping the old one as
   * NAME-old-<time> and putting it back if the new one does not stay up; a killed re-creation resumes.
   */
  async recreate(host: string, name: string, edit: RecreateOptions): Promise<RecreateResult> {
    return recreateContainer(await this.conns.get(host), name, { keepRunningCheckMs: 2000, ...edit })
  }

  /** A progress line on stderr. */
  log = (msg: string) => this.out.progress(msg)

  /** An expected failure, as dr reports them: `throw error({ code: 'disk-low', message, host, hint, exit: 'problems' })`. */
  error = (e: ErrorSpec): DrError => new DrError({ ...e, code: e.code.includes('.') ? e.code : `run.${e.code}` })

  async close(): Promise<void> {
    const all = [...this.members.values(), ...this.kubes.values()]
    this.members.clear()
    this.kubes.clear()
    // A client whose connection failed has nothing to close; a close that fails (its transport already closed)
    // leaves nothing open either.
    await Promise.all(all.map((p) => p.then((c) => c.close()).catch(() => undefined)))
  }
}

