// A real etcd cluster on loopback for tests: 1 or 3 members, free ports, optional TLS with client-cert auth
// (certificates made by openssl, like RKE's: one CA, a server/peer cert per member, a client cert).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import { Etcd3 } from 'etcd3'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { freeLoopbackPort, listenTunnel, LocalTransport } from '../../src/transport/local.ts'
import type { SnapshotTarget } from '../../src/etcd/snapshot-stream.ts'
import type { TransportSource } from '../../src/etcd/client.ts'
import type { Host, Inventory } from '../../src/inventory/types.ts'

export interface EtcdTls {
  caFile: string
  certFile: string
  keyFile: string
  /** CA, cert and key as text, for `new Etcd3({ credentials })`. */
  credentials: { rootCertificate: Buffer; certChain: Buffer; privateKey: Buffer }
}

export interface EtcdCluster {
  /** Client URLs, one per member: http(s)://127.0.0.1:PORT. */
  endpoints: string[]
  peerUrls: string[]
  names: string[]
  dataDirs: string[]
  /** The scratch directory holding data dirs, certs and logs; removed by stop(). */
  dir: string
  tls?: EtcdTls
  /** `etcdctl` argv prefix (ETCDCTL_API=3 is in env()) with the endpoints and certs. */
  etcdctlArgs(endpoints?: string[]): string[]
  env(): NodeJS.ProcessEnv
  /** Where dr reads member i's snapshot (src/etcd/snapshot-stream.ts). */
  snapshotTarget(i?: number): SnapshotTarget
  /** An etcd3 client of member i, its certificate checked for `localhost` as dr checks it (src/etcd/client.ts). */
  client(i?: number): Etcd3
  /** Stop member i (SIGTERM: a leader hands its leadership over first; SIGKILL: a host that dies), keeping its data;
   * startMember() brings it back on the same ports. */
  stopMember(i: number, signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>
  startMember(i: number): Promise<void>
  stop(): Promise<void>
}

export interface StartEtcdOptions {
  members?: 1 | 3
  tls?: boolean
  /** Backend quota (default 8 GiB, so benchmarks can fill it). */
  quotaBytes?: number
  /** Keep the scratch directory after stop() (for debugging). */
  keep?: boolean
  /** etcd's --election-timeout (default 500 ms, quick tests); the heartbeat is a tenth of it. RKE runs 5000. */
  electionTimeoutMs?: number
}

export const freePort = freeLoopbackPort

/** A CA, one server+peer certificate valid for 127.0.0.1/localhost, and a client certificate. */
export function makeCerts(dir: string): EtcdTls {
  fs.mkdirSync(dir, { recursive: true })
  const p = (f: string) => path.join(dir, f)
  const ossl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' })
  ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=dr-test-ca', '-keyout', p('ca-key.pem'), '-out', p('ca.pem'))
  const ext = p('ext.cnf')
  fs.writeFileSync(
    ext,
    ['[srv]', 'subjectAltName=IP:127.0.0.1,DNS:localhost', 'extendedKeyUsage=serverAuth,clientAuth', '[cli]', 'extendedKeyUsage=clientAuth'].join('\n'),
  )
  for (const [name, section] of [
    ['server', 'srv'],
    ['client', 'cli'],
  ] as const) {
    ossl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=dr-test-${name}`, '-keyout', p(`${name}-key.pem`), '-out', p(`${name}.csr`))
    ossl('x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.pem'), '-CAkey', p('ca-key.pem'), '-CAcreateserial', '-days', '2', '-extfile', ext, '-extensions', section, '-out', p(`${name}.pem`))
  }
  return {
    caFile: p('ca.pem'),
    certFile: p('client.pem'),
    keyFile: p('client-key.pem'),
    credentials: { rootCertificate: fs.readFileSync(p('ca.pem')), certChain: fs.readFileSync(p('client.pem')), privateKey: fs.readFileSync(p('client-key.pem')) },
  }
}

async function waitHealthy(cluster: EtcdCluster, i: number, procs: (ChildProcess | undefined)[], logs: string[]): Promise<void> {
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    const proc = procs[i]
    if (!proc || proc.exitCode !== null) throw new Error(`etcd member ${i} exited: ${fs.readFileSync(logs[i], 'utf8').slice(-2000)}`)
    try {
      execFileSync('etcdctl', [...cluster.etcdctlArgs([cluster.endpoints[i]]), '--command-timeout=2s', 'endpoint', 'health'], { env: cluster.env(), stdio: 'pipe' })
      return
    } catch {
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  throw new Error(`etcd member ${i} not healthy after 20 s: ${fs.readFileSync(logs[i], 'utf8').slice(-2000)}`)
}

export async function startEtcd(opts: StartEtcdOptions = {}): Promise<EtcdCluster> {
  const n = opts.members ?? 1
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-etcd-'))
  const tls = opts.tls ? makeCerts(path.join(dir, 'pki')) : undefined
  const scheme = tls ? 'https' : 'http'
  const names = Array.from({ length: n }, (_, i) => `m${i + 1}`)
  const clientPorts: number[] = []
  const peerPorts: number[] = []
  for (let i = 0; i < n; i++) {
    clientPorts.push(await freePort())
    peerPorts.push(await freePort())
  }
  const endpoints = clientPorts.map((p) => `${scheme}://127.0.0.1:${p}`)
  const peerUrls = peerPorts.map((p) => `${scheme}://127.0.0.1:${p}`)
  const dataDirs = names.map((nm) => path.join(dir, `${nm}.etcd`))
  const logs = names.map((nm) => path.join(dir, `${nm}.log`))
  const initialCluster = names.map((nm, i) => `${nm}=${peerUrls[i]}`).join(',')
  const procs: (ChildProcess | undefined)[] = []

  const argv = (i: number): string[] => {
    const a = [
      `--name=${names[i]}`,
      `--data-dir=${dataDirs[i]}`,
      `--listen-client-urls=${endpoints[i]}`,
      `--advertise-client-urls=${endpoints[i]}`,
      `--listen-peer-urls=${peerUrls[i]}`,
      `--initial-advertise-peer-urls=${peerUrls[i]}`,
      `--initial-cluster=${initialCluster}`,
      '--initial-cluster-state=new',
      `--initial-cluster-token=dr-test-${path.basename(dir)}`,
      `--quota-backend-bytes=${opts.quotaBytes ?? 8 * 1024 ** 3}`,
      `--heartbeat-interval=${Math.round((opts.electionTimeoutMs ?? 500) / 10)}`,
      `--election-timeout=${opts.electionTimeoutMs ?? 500}`,
    ]
    if (tls) {
      const pki = path.dirname(tls.caFile)
      const cert = path.join(pki, 'server.pem')
      const key = path.join(pki, 'server-key.pem')
      a.push(`--cert-file=${cert}`, `--key-file=${key}`, `--trusted-ca-file=${tls.caFile}`, '--client-cert-auth')
      a.push(`--peer-cert-file=${cert}`, `--peer-key-file=${key}`, `--peer-trusted-ca-file=${tls.caFile}`, '--peer-client-cert-auth')
    }
    return a
  }

  const cluster: EtcdCluster = {
    endpoints,
    peerUrls,
    names,
    dataDirs,
    dir,
    tls,
    etcdctlArgs: (eps = endpoints) => {
      const a = [`--endpoints=${eps.join(',')}`]
      if (tls) a.push(`--cacert=${tls.caFile}`, `--cert=${tls.certFile}`, `--key=${tls.keyFile}`)
      return a
    },
    env: () => ({ ...process.env, ETCDCTL_API: '3' }),
    // TLS cannot use 127.0.0.1 as a server name (node warns, DEP0123): the certificates name `localhost`.
    client: (i = 0) =>
      new Etcd3({
        hosts: endpoints[i],
        ...(tls ? { credentials: tls.credentials, grpcOptions: { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' } } : {}),
      }),
    snapshotTarget: (i = 0) => ({
      url: endpoints[i],
      credentials: tls && { ca: tls.credentials.rootCertificate, cert: tls.credentials.certChain, key: tls.credentials.privateKey },
    }),
    startMember: async (i) => {
      const log = fs.openSync(logs[i], 'a')
      procs[i] = spawn('etcd', argv(i), { stdio: ['ignore', log, log] })
      fs.closeSync(log)
      await waitHealthy(cluster, i, procs, logs)
    },
    stopMember: async (i, signal = 'SIGTERM') => {
      const p = procs[i]
      if (!p || p.exitCode !== null || p.signalCode !== null) return
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => p.kill('SIGKILL'), 5000)
        p.once('exit', () => {
          clearTimeout(t)
          resolve()
        })
        p.kill(signal)
      })
    },
    stop: async () => {
      await Promise.all(names.map((_, i) => cluster.stopMember(i)))
      if (!opts.keep) fs.rmSync(dir, { recursive: true, force: true })
    },
  }

  // Members of a new cluster wait for each other, so start them all, then wait for each.
  try {
    for (let i = 0; i < n; i++) {
      const log = fs.openSync(logs[i], 'a')
      procs[i] = spawn('etcd', argv(i), { stdio: ['ignore', log, log] })
      fs.closeSync(log)
    }
    for (let i = 0; i < n; i++) await waitHealthy(cluster, i, procs, logs)
  } catch (e) {
    await cluster.stop()
    throw e
  }
  return cluster
}

/** A "host" on this machine whose transport forwards etcd's client port to one member's port. */
class MemberHost extends LocalTransport {
  constructor(
    name: string,
    private readonly port: number,
  ) {
    super(name)
  }
  override forward() {
    return listenTunnel(() => net.connect(this.port, '127.0.0.1'))
  }
}

/**
 * The cluster as dr's inventory names it: host `hosts[i]` (in site `sites[i]`) is member i, reached through a local
 * transport whose tunnel ends on that member's client port, with the cluster's client certificate. `file` keys what
 * dr remembers per inventory (the member that answered last).
 */
export function memberInventory(cluster: EtcdCluster, hosts: string[], sites: string[], file: string): { inv: Inventory; conns: TransportSource } {
  const pki = path.dirname(cluster.tls!.caFile)
  const byName: Record<string, Host> = {}
  const bySite: Record<string, { name: string; hosts: string[] }> = {}
  hosts.forEach((h, i) => {
    byName[h] = { name: h, site: sites[i], address: '127.0.0.1', transport: 'local', roles: ['etcd'], labels: {}, hostKeys: [], ssh: {} as Host['ssh'] }
    ;(bySite[sites[i]] ??= { name: sites[i], hosts: [] }).hosts.push(h)
  })
  const inv = {
    cluster: 'it', file, flavor: 'rke', hosts: byName, sites: bySite,
    etcd: { clientPort: 2379, peerPort: 2380, caFile: cluster.tls!.caFile, certFile: path.join(pki, 'client.pem'), keyFile: path.join(pki, 'client-key.pem'), dataDir: '/nonexistent', container: 'etcd' },
  } as unknown as Inventory
  const ports = cluster.endpoints.map((e) => Number(new URL(e).port))
  return { inv, conns: { get: async (h: string) => new MemberHost(h, ports[hosts.indexOf(h)]) } }
}
