// One open transport per host, reused; fan-out with a concurrency limit; per-host failures as data.
import { DrError, isDrError } from '../core/error.ts'
import type { Output } from '../core/output.ts'
import type { Host, Inventory } from '../inventory/types.ts'
import { DockerExecTransport } from './docker-exec.ts'
import { LocalTransport } from './local.ts'
import { SshTransport, type SshTarget } from './ssh.ts'
import type { Transport } from './types.ts'

export interface HostOutcome<T> {
  host: string
  value?: T
  error?: DrError
}

/** `user@address:port` (user and port optional) for a jump host that is not in the inventory. */
export function parseJumpSpec(spec: string): { user?: string; address: string; port?: number } {
  const m = /^(?:([^@]+)@)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(spec)
  if (!m) throw new DrError({ code: 'inventory.bad-jump-host', message: `cannot read jump host "${spec}"`, hint: 'write a host name from `hosts`, or user@address:port', exit: 'usage' })
  return { user: m[1], address: m[2].replace(/^\[|\]$/g, ''), port: m[3] ? Number(m[3]) : undefined }
}

export class Connections {
  private readonly open = new Map<string, Promise<Transport>>()

  constructor(
    readonly inv: Inventory,
    private readonly opts: { out?: Output } = {},
  ) {}

  host(name: string): Host {
    const h = this.inv.hosts[name]
    if (!h)
      throw new DrError({
        code: 'inventory.unknown-host',
        message: `host "${name}" is not in the inventory ${this.inv.file}`,
        hint: `known hosts: ${Object.keys(this.inv.hosts).join(', ')}`,
        exit: 'usage',
      })
    return h
  }

  /** The host's transport, opened once. A failed attempt is not cached, so a later call tries again. */
  get(hostName: string): Promise<Transport> {
    const cached = this.open.get(hostName)
    if (cached) return cached
    let host: Host
    try {
      host = this.host(hostName)
    } catch (e) {
      return Promise.reject(e)
    }
    const p = this.connect(host, [hostName])
    this.open.set(hostName, p)
    p.then(
      (t) => {
        // A dropped SSH connection is reopened on the next get().
        if (t instanceof SshTransport) t.client.once('close', () => this.open.get(hostName) === p && this.open.delete(hostName))
      },
      () => this.open.get(hostName) === p && this.open.delete(hostName),
    )
    return p
  }

  private async connect(host: Host, chain: string[]): Promise<Transport> {
    if (host.transport === 'local') return new LocalTransport(host.name)
    if (host.transport === 'docker-exec') return new DockerExecTransport(host.name, host.container ?? host.name, host.address)
    const via = host.ssh.jumpHost ? await this.jump(host, chain) : undefined
    this.opts.out?.debug(`ssh ${host.ssh.user}@${host.address}:${host.ssh.port}${via ? ` via ${via.host}` : ''} (${host.name})`)
    return SshTransport.connect(host, { via })
  }

  private async jump(host: Host, chain: string[]): Promise<SshTransport> {
    const spec = host.ssh.jumpHost as string
    if (this.inv.hosts[spec]) {
      if (chain.includes(spec))
        throw new DrError({ code: 'inventory.jump-loop', host: host.name, message: `jump hosts form a loop: ${[...chain, spec].join(' → ')}`, hint: 'remove jumpHost from one of these hosts', exit: 'usage' })
      const t = this.open.get(spec) ?? this.connect(this.inv.hosts[spec], [...chain, spec])
      if (!this.open.has(spec)) this.open.set(spec, t)
      const jt = await t
      if (!(jt instanceof SshTransport))
        throw new DrError({ code: 'inventory.bad-jump-host', host: host.name, message: `jump host ${spec} is not reached over ssh`, hint: 'a jump host must use the ssh transport', exit: 'usage' })
      return jt
    }
    // An address outside the inventory: same ssh settings as the host, without a further jump.
    const key = `jump:${spec}`
    let p = this.open.get(key) as Promise<SshTransport> | undefined
    if (!p) {
      const j = parseJumpSpec(spec)
      const target: SshTarget = {
        name: `jump ${spec}`,
        address: j.address,
        hostKeys: [],
        ssh: { ...host.ssh, user: j.user ?? host.ssh.user, port: j.port ?? 22, jumpHost: undefined },
      }
      p = SshTransport.connect(target)
      this.open.set(key, p)
      p.catch(() => this.open.delete(key))
    }
    return p
  }

  /** Run fn on each host, at most ssh.concurrency at once; a failing host becomes `{ host, error }`. */
  async map<T>(hostNames: string[], fn: (t: Transport, host: Host) => Promise<T>): Promise<Array<HostOutcome<T>>> {
    const limit = Math.max(1, this.inv.ssh.concurrency)
    const results: Array<HostOutcome<T>> = hostNames.map((host) => ({ host }))
    let next = 0
    const worker = async () => {
      while (next < hostNames.length) {
        const i = next++
        const name = hostNames[i]
        try {
          const host = this.host(name)
          results[i].value = await fn(await this.get(name), host)
        } catch (e) {
          results[i].error = asDrError(e, name)
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(limit, hostNames.length) }, worker))
    return results
  }

  async close(): Promise<void> {
    const all = [...this.open.values()]
    this.open.clear()
    await Promise.all(all.map((p) => p.then((t) => t.close(), () => {})))
  }
}

function asDrError(e: unknown, host: string): DrError {
  if (isDrError(e)) return e
  return new DrError({
    code: 'bug',
    host,
    message: `${host}: unexpected error (this is a bug in dr, please report it): ${(e as Error)?.message ?? String(e)}`,
    exit: 'bug',
    cause: e,
  })
}
