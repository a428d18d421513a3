// A small Docker Engine API client for a host's docker daemon. Used where the CLI cannot be exact: creating a
// container from exact arrays. The API version is negotiated: the lower of the engine's and the newest this body
// format was checked with.
//
// No listener anywhere: each HTTP connection is a `docker system dial-stdio` on the host (over an ssh2 channel,
// under `sudo -n` when the inventory says so; `docker exec -i` or a local process for the other transports), the
// way docker's own ssh:// contexts reach a remote daemon. A TCP port on 127.0.0.1 would let any local user of the
// operator's machine drive that docker, which is root on the etcd host.
import http from 'node:http'
import type { Duplex } from 'node:stream'
import { DrError, isDrError } from '../core/error.ts'
import type { Transport } from '../transport/types.ts'

/** The create body format (HostConfig, EndpointsConfig, Config.MacAddress) is the one of API 1.41 (docker 20.10). */
export const MAX_API_VERSION = '1.41'
export const MIN_API_VERSION = '1.40'

export const compareVersions = (a: string, b: string): number => {
  const [a1, a2] = a.split('.').map(Number)
  const [b1, b2] = b.split('.').map(Number)
  return a1 - b1 || a2 - b2
}

export interface EngineResponse {
  status: number
  body: Buffer
}

export interface EngineInfo {
  Name?: string
  LoggingDriver?: string
  DefaultRuntime?: string
  CgroupVersion?: string
  ServerVersion?: string
}

/** The docker CLI's stdio proxy to its daemon (docker ≥ 18.09), for the socket at socketPath. */
export const dialStdioArgv = (socketPath: string): string[] =>
  socketPath === '/var/run/docker.sock' ? ['docker', 'system', 'dial-stdio'] : ['docker', '-H', `unix://${socketPath}`, 'system', 'dial-stdio']

/** The socket methods http's client and agent call, on a stream that is not a socket. */
function asSocket(s: Duplex): Duplex {
  const self = s as Duplex & Record<string, unknown>
  for (const m of ['setTimeout', 'setNoDelay', 'setKeepAlive', 'ref', 'unref']) if (typeof self[m] !== 'function') self[m] = () => s
  return s
}

/** An HTTP agent whose connections are command streams on a host: no local port, no socket file. */
class StreamAgent extends http.Agent {
  constructor(private readonly open: () => Promise<Duplex>) {
    super({ keepAlive: true, maxSockets: 4 })
  }
  override createConnection(_options: unknown, callback: (err: Error | null, socket?: Duplex) => void): undefined {
    this.open().then(
      (s) => callback(null, asSocket(s)),
      (e: Error) => callback(e),
    )
    return undefined
  }
}

export class Engine {
  private constructor(
    readonly host: string,
    private readonly agent: http.Agent,
    readonly apiVersion: string,
  ) {}

  /** Reach the docker engine of a host and agree on an API version. */
  static async open(t: Transport, socketPath = '/var/run/docker.sock'): Promise<Engine> {
    const argv = dialStdioArgv(socketPath)
    const agent = new StreamAgent(() => t.openStream(argv))
    try {
      const probe = new Engine(t.host, agent, '')
      const v = await probe.json<{ ApiVersion: string; Version: string }>('GET', '/version')
      if (compareVersions(v.ApiVersion, MIN_API_VERSION) < 0) {
        throw new DrError({ code: 'docker.api-too-old', message: `docker ${v.Version} on ${t.host} speaks API ${v.ApiVersion}; dr needs ${MIN_API_VERSION} or newer`, host: t.host, hint: 'upgrade docker on that host (20.10 or newer)' })
      }
      const version = compareVersions(v.ApiVersion, MAX_API_VERSION) < 0 ? v.ApiVersion : MAX_API_VERSION
      return new Engine(t.host, agent, version)
    } catch (e) {
      agent.destroy()
      throw e
    }
  }

  async close(): Promise<void> {
    this.agent.destroy()
  }

  /** One request; the path is versioned unless it is /version. */
  request(method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<EngineResponse> {
    const full = this.apiVersion && path !== '/version' ? `/v${this.apiVersion}${path}` : path
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: 'docker',
          method,
          path: full,
          agent: this.agent,
          headers: { Host: 'docker', ...(data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () => {
            clearTimeout(timer)
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) })
          })
          res.on('error', reject)
        },
      )
      // A stream has no socket timeout of its own: the deadline is a timer.
      const timer = setTimeout(() => req.destroy(new Error(`docker API ${method} ${path} timed out after ${timeoutMs} ms`)), timeoutMs)
      req.on('error', (e) => {
        clearTimeout(timer)
        reject(
          new DrError({
            code: 'docker.api-unreachable',
            message: `the docker API on ${this.host} did not answer: ${e.message}`,
            host: this.host,
            doing: `${method} ${path}`,
            command: isDrError(e) ? e.command : undefined,
            stderr: isDrError(e) ? e.stderr : undefined,
            hint: 'is dockerd running there, is the docker CLI installed (dr runs `docker system dial-stdio`), and may the login user (or sudo) use /var/run/docker.sock?',
            cause: e,
          }),
        )
      })
      req.end(data)
    })
  }

  /** A request whose answer must be 2xx JSON (or empty). */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await this.request(method, path, body)
    if (r.status < 200 || r.status >= 300) throw this.error(method, path, r)
    return (r.body.length === 0 ? undefined : JSON.parse(r.body.toString('utf8'))) as T
  }

  error(method: string, path: string, r: EngineResponse): DrError {
    let message = r.body.toString('utf8').trim()
    try {
      message = (JSON.parse(message) as { message?: string }).message ?? message
    } catch {
      /* not JSON: keep the text */
    }
    return new DrError({ code: r.status === 404 ? 'docker.not-found' : r.status === 409 ? 'docker.conflict' : 'docker.api-error', message: `docker API ${method} ${path} on ${this.host}: ${message}`, host: this.host, exitStatus: r.status, stderr: message })
  }

  info(): Promise<EngineInfo> {
    return this.json<EngineInfo>('GET', '/info')
  }

  async createContainer(name: string, body: unknown): Promise<string> {
    const r = await this.json<{ Id: string; Warnings?: string[] }>('POST', `/containers/create?name=${encodeURIComponent(name)}`, body)
    return r.Id
  }

  async connectNetwork(network: string, container: string, endpointConfig: unknown): Promise<void> {
    await this.json('POST', `/networks/${encodeURIComponent(network)}/connect`, { Container: container, EndpointConfig: endpointConfig })
  }

  async startContainer(id: string): Promise<void> {
    const r = await this.request('POST', `/containers/${encodeURIComponent(id)}/start`)
    if (r.status !== 204 && r.status !== 304) throw this.error('POST', `/containers/${id}/start`, r)
  }

  /** `docker inspect` of a container by id or name; undefined when there is none. */
  async inspect<T = unknown>(idOrName: string): Promise<T | undefined> {
    const path = `/containers/${encodeURIComponent(idOrName)}/json`
    const r = await this.request('GET', path)
    if (r.status === 404) return undefined
    if (r.status !== 200) throw this.error('GET', path, r)
    return JSON.parse(r.body.toString('utf8')) as T
  }

  /** `docker update --restart=…` */
  async setRestartPolicy(id: string, policy: { Name: string; MaximumRetryCount?: number }): Promise<void> {
    await this.json('POST', `/containers/${encodeURIComponent(id)}/update`, { RestartPolicy: policy })
  }

  /** `docker stop` (SIGTERM, then SIGKILL after `graceSeconds`); a container already stopped is fine (304). */
  async stopContainer(id: string, graceSeconds = 10): Promise<void> {
    const path = `/containers/${encodeURIComponent(id)}/stop?t=${graceSeconds}`
    const r = await this.request('POST', path, undefined, (graceSeconds + 60) * 1000)
    if (r.status !== 204 && r.status !== 304) throw this.error('POST', path, r)
  }

  async renameContainer(id: string, name: string): Promise<void> {
    const path = `/containers/${encodeURIComponent(id)}/rename?name=${encodeURIComponent(name)}`
    const r = await this.request('POST', path)
    if (r.status !== 204) throw this.error('POST', path, r)
  }

  /** The last lines of a container's output, stdout and stderr interleaved as docker stored them. */
  async logsTail(id: string, lines = 30): Promise<string> {
    const r = await this.request('GET', `/containers/${encodeURIComponent(id)}/logs?stdout=1&stderr=1&tail=${lines}`)
    if (r.status !== 200) return ''
    return demultiplex(r.body)
  }
}

/** Docker's log stream without a TTY: frames of [stream, 0, 0, 0, size(4 bytes BE)] + payload. */
export function demultiplex(buf: Buffer): string {
  const out: Buffer[] = []
  let i = 0
  while (i + 8 <= buf.length && buf[i] <= 2 && buf[i + 1] === 0 && buf[i + 2] === 0 && buf[i + 3] === 0) {
    const size = buf.readUInt32BE(i + 4)
    out.push(buf.subarray(i + 8, i + 8 + size))
    i += 8 + size
  }
  if (i === 0) return buf.toString('utf8') // a TTY container: raw text
  return Buffer.concat(out).toString('utf8')
}
