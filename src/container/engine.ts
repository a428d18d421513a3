// A small Docker Engine API client over the host's docker socket (reached through transport.forwardUnix, so an
// SSH host's socket is tunnelled). Used where the CLI cannot be exact: creating a container from exact arrays.
// The API version is negotiated: the lower of the engine's and the newest this body format was checked with.
import http from 'node:http'
import { DrError } from '../core/error.ts'
import type { Transport, Tunnel } from '../transport/types.ts'

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

export class Engine {
  private constructor(
    readonly host: string,
    private readonly tunnel: Tunnel,
    readonly apiVersion: string,
  ) {}

  /** Reach the docker engine of a host and agree on an API version. */
  static async open(t: Transport, socketPath = '/var/run/docker.sock'): Promise<Engine> {
    const tunnel = await t.forwardUnix(socketPath)
    try {
      const probe = new Engine(t.host, tunnel, '')
      const v = await probe.json<{ ApiVersion: string; Version: string }>('GET', '/version')
      if (compareVersions(v.ApiVersion, MIN_API_VERSION) < 0) {
        throw new DrError({ code: 'docker.api-too-old', message: `docker ${v.Version} on ${t.host} speaks API ${v.ApiVersion}; dr needs ${MIN_API_VERSION} or newer`, host: t.host, hint: 'upgrade docker on that host (20.10 or newer)' })
      }
      const version = compareVersions(v.ApiVersion, MAX_API_VERSION) < 0 ? v.ApiVersion : MAX_API_VERSION
      return new Engine(t.host, tunnel, version)
    } catch (e) {
      await tunnel.close()
      throw e
    }
  }

  close(): Promise<void> {
    return this.tunnel.close()
  }

  /** One request; the path is versioned unless it is /version. */
  request(method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<EngineResponse> {
    const full = this.apiVersion && path !== '/version' ? `/v${this.apiVersion}${path}` : path
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: this.tunnel.localPort,
          method,
          path: full,
          agent: false,
          headers: { Host: 'docker', ...(data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {}) },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }))
          res.on('error', reject)
        },
      )
      req.on('timeout', () => req.destroy(new Error(`docker API ${method} ${path} timed out after ${timeoutMs} ms`)))
      req.on('error', (e) =>
        reject(new DrError({ code: 'docker.api-unreachable', message: `the docker API on ${this.host} did not answer: ${e.message}`, host: this.host, doing: `${method} ${path}`, hint: 'is dockerd running there, and may this user read /var/run/docker.sock?', cause: e })),
      )
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
