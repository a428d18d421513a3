// Reach one etcd member with the etcd3 client: the cluster's client certificate is read from the member's host
// over SFTP (kept in memory only) and the gRPC connection goes through an SSH tunnel to the member's client port.
import type { Etcd3, IOptions } from 'etcd3'
import { noop } from 'cockatiel'
import { DrError } from '../core/error.ts'
import type { Inventory } from '../inventory/types.ts'
import { hostPath } from '../inventory/types.ts'
import type { Transport, Tunnel } from '../transport/types.ts'
import type { SnapshotTarget } from './snapshot-stream.ts'

export interface MemberCredentials {
  ca: Buffer
  cert: Buffer
  key: Buffer
}

export interface MemberConnection {
  host: string
  /** The member's advertised client URL (what other members and apiservers use). */
  endpoint: string
  /** The local end of the tunnel: https://127.0.0.1:<port>. */
  local: string
  client: Etcd3
  credentials: MemberCredentials
  close(): Promise<void>
}

/** Something that hands out transports per host: Connections, or a test's own. */
export interface TransportSource {
  get(hostName: string): Promise<Transport>
}

export async function readCredentials(t: Transport, inv: Inventory, hostName: string): Promise<MemberCredentials> {
  const host = inv.hosts[hostName]
  const read = async (template: string, what: string) => {
    const file = hostPath(template, host)
    try {
      return await t.readFile(file)
    } catch (e) {
      throw new DrError({
        code: 'etcd.cert-unreadable',
        message: `cannot read the etcd ${what} ${file} on ${hostName}`,
        host: hostName,
        doing: 'read the etcd client certificate',
        hint: `check etcd.${what === 'CA' ? 'caFile' : what === 'certificate' ? 'certFile' : 'keyFile'} in the inventory (placeholders {ip}, {ipDashes}, {name})`,
        cause: e,
      })
    }
  }
  const [ca, cert, key] = await Promise.all([
    read(inv.etcd.caFile, 'CA'),
    read(inv.etcd.certFile, 'certificate'),
    read(inv.etcd.keyFile, 'key'),
  ])
  return { ca, cert, key }
}

/** Where to read this member's snapshot (src/etcd/snapshot-stream.ts): the same tunnel and certificate. */
export const snapshotTarget = (conn: Pick<MemberConnection, 'local' | 'credentials'>): SnapshotTarget => ({ url: conn.local, credentials: conn.credentials })

export const memberEndpoint = (inv: Inventory, hostName: string) =>
  `https://${inv.hosts[hostName].address}:${inv.etcd.clientPort}`

/**
 * HTTP/2 flow-control window of the etcd channel, and of the snapshot's own connection (snapshot-stream.ts).
 * gRPC's default, 64 KiB, made etcd wait for a window update every two 32 KiB snapshot messages: dr's snapshot took
 * 1.2–1.3× `etcdctl snapshot save` (whose Go gRPC grows its window). 1 MiB (32 messages) brings it level
 * (`scripts/bench backup`), and is all a paused snapshot holds in memory. 4 MiB was no faster, and when the backup
 * pipeline was the slower side the snapshot's buffers waited in it long enough to reach V8's old generation
 * (src/backup/stage.ts): 135–168 MiB of peak RSS against 116–122. 512 KiB was as fast on a local member (10
 * alternating runs) and was not tried across a network.
 */
export const ETCD_FLOW_CONTROL_WINDOW = 1 << 20

/**
 * One client per member, never load-balanced across members: dr must know which member answered.
 * No retries: a dead member must fail fast, and each call carries its own deadline.
 */
export function clientOptions(hosts: string, creds: MemberCredentials, callTimeoutMs: number): IOptions {
  return {
    hosts,
    credentials: { rootCertificate: creds.ca, certChain: creds.cert, privateKey: creds.key },
    dialTimeout: callTimeoutMs,
    faultHandling: { global: noop, host: () => noop },
    // Streams (snapshots) take as long as they take; every unary call gets the deadline.
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
    // The tunnel ends on 127.0.0.1, which TLS cannot use as a server name; the member's certificate is checked
    // for `localhost`, which RKE's and kubeadm's etcd certificates (and the lab's) carry.
    // Reconnect within half a second: while a member restarts (a re-creation), gRPC's default backoff (1 s growing
    // to 120 s) would leave dr waiting seconds after the member is already back.
    grpcOptions: {
      'grpc.max_receive_message_length': -1,
      'grpc.ssl_target_name_override': 'localhost',
      'grpc.default_authority': 'localhost',
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 500,
      'grpc-node.flow_control_window': ETCD_FLOW_CONTROL_WINDOW,
    },
  }
}

export async function connectMember(
  conns: TransportSource,
  inv: Inventory,
  hostName: string,
  opts: { callTimeoutMs?: number } = {},
): Promise<MemberConnection> {
  const t = await conns.get(hostName)
  const credentials = await readCredentials(t, inv, hostName)
  let tunnel: Tunnel
  try {
    tunnel = await t.forward('127.0.0.1', inv.etcd.clientPort)
  } catch (e) {
    throw new DrError({
      code: 'etcd.tunnel',
      message: `cannot open a tunnel to etcd's client port on ${hostName}`,
      host: hostName,
      hint: 'check that sshd on the host allows TCP forwarding (AllowTcpForwarding yes)',
      cause: e,
    })
  }
  const local = `https://127.0.0.1:${tunnel.localPort}`
  // etcd3 (gRPC, protobuf) loads on the first member connection, not when dr starts.
  const { Etcd3 } = await import('etcd3')
  const client = new Etcd3(clientOptions(local, credentials, opts.callTimeoutMs ?? 3000))
  return {
    host: hostName,
    endpoint: memberEndpoint(inv, hostName),
    local,
    client,
    credentials,
    async close() {
      client.close()
      await tunnel.close()
    },
  }
}
