// etcd's Snapshot RPC (Maintenance/Snapshot, a server stream) spoken over node:http2 directly, as a byte stream of
// the snapshot. Every other call goes through the etcd3 client; this one carries the whole database, and grpc-js
// decoded each 32 KiB message into an object (protobufjs) and handed it through two object-mode streams. Here a
// message is cut from the HTTP/2 data, its blob field found by hand (the only field dr reads) and pushed as a
// slice. That frees the main thread the backup pipeline shares with sha256, age and SSH: in 7 alternating runs of
// scripts/bench backup's children (hex text, 330 MiB) the pipeline took 4.29 CPU-s and 4.15 s by median against
// 4.77 and 4.59 with grpc-js; the raw snapshot alone, bound by etcd's sending, was level.
//
// The wire format (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md): a POST of one length-prefixed
// message (an empty SnapshotRequest); the answer is length-prefixed SnapshotResponse messages, then trailers that
// carry grpc-status (or, for a call refused at once, grpc-status in the response headers alone).
import http2 from 'node:http2'
import { Readable } from 'node:stream'
import { ByteQueue } from '../backup/byte-queue.ts'
import { ETCD_FLOW_CONTROL_WINDOW, type MemberCredentials } from './client.ts'

export interface SnapshotTarget {
  /** https://host:port (or http:// for a member without TLS). */
  url: string
  /** The cluster's CA and a client certificate; none for http://. */
  credentials?: MemberCredentials
}

export interface SnapshotStreamOptions {
  /** Give up after this long, whatever the progress (etcd is told too, as grpc-timeout). Default one hour. */
  timeoutMs?: number
  /** Bytes of snapshot the stream buffers before it stops reading. */
  highWaterMark?: number
  /** HTTP/2 flow-control window, stream and connection: what etcd may send before dr has read it. Default
   * ETCD_FLOW_CONTROL_WINDOW, the etcd3 client's. */
  windowBytes?: number
}

const SNAPSHOT_PATH = '/etcdserverpb.Maintenance/Snapshot'
/** etcd sends 32 KiB blobs; a message far past that is not etcd speaking, and is not buffered. */
const MAX_MESSAGE = 16 << 20
/** The request: one uncompressed message of zero bytes (SnapshotRequest has no fields). */
const EMPTY_REQUEST = Buffer.alloc(5)
const GRPC_CODES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED']

/** A failed Snapshot call: `status` is the gRPC status name when etcd gave one. */
export class SnapshotRpcError extends Error {
  override name = 'SnapshotRpcError'
  constructor(
    message: string,
    readonly status?: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

/** Read a protobuf varint at `at`: [value, next offset]. Values past 2^53 lose precision, which no length reaches. */
function varint(b: Buffer, at: number): [number, number] {
  let v = 0
  let scale = 1
  for (let i = at; i < b.length; i++) {
    v += (b[i] & 0x7f) * scale
    if (b[i] < 0x80) return [v, i + 1]
    scale *= 128
  }
  throw new SnapshotRpcError('a SnapshotResponse ends inside a varint')
}

/** The blob (field 3) of one SnapshotResponse, a slice of `msg`; other fields (header, remaining_bytes) are skipped. */
export function snapshotBlob(msg: Buffer): Buffer {
  let blob = msg.subarray(0, 0)
  let at = 0
  while (at < msg.length) {
    const [tag, next] = varint(msg, at)
    at = next
    const field = Math.floor(tag / 8)
    switch (tag & 7) {
      case 0:
        at = varint(msg, at)[1]
        break
      case 1:
        at += 8
        break
      case 5:
        at += 4
        break
      case 2: {
        const [len, start] = varint(msg, at)
        at = start + len
        if (at > msg.length) throw new SnapshotRpcError(`a SnapshotResponse field ${field} runs past its message`)
        if (field === 3) blob = msg.subarray(start, at)
        break
      }
      default:
        throw new SnapshotRpcError(`a SnapshotResponse has field ${field} of wire type ${tag & 7}, which protobuf does not define`)
    }
  }
  if (at !== msg.length) throw new SnapshotRpcError('a SnapshotResponse field runs past its message')
  return blob
}

function statusError(headers: http2.IncomingHttpHeaders): SnapshotRpcError | null {
  const code = Number(headers['grpc-status'])
  if (code === 0) return null
  const name = GRPC_CODES[code] ?? `status ${headers['grpc-status']}`
  const raw = headers['grpc-message']
  let text = typeof raw === 'string' ? raw : ''
  try {
    text = decodeURIComponent(text) // grpc-message is percent-encoded
  } catch {
    // not valid percent-encoding: show it as it came
  }
  return new SnapshotRpcError(`etcd answered ${name}${text ? `: ${text}` : ''}`, name)
}

class SnapshotStream extends Readable {
  private session?: http2.ClientHttp2Session
  private req?: http2.ClientHttp2Stream
  private timer?: NodeJS.Timeout
  /** Received bytes not yet cut into messages. */
  private readonly pending = new ByteQueue()
  /** The length of the message whose 5-byte prefix was taken, until the message is. */
  private messageBytes: number | undefined
  private status: http2.IncomingHttpHeaders | undefined
  private connected = false

  constructor(
    private readonly target: SnapshotTarget,
    private readonly opts: SnapshotStreamOptions,
  ) {
    super({ highWaterMark: opts.highWaterMark })
  }

  override _construct(cb: (e?: Error | null) => void) {
    const timeoutMs = this.opts.timeoutMs ?? 3_600_000
    const windowBytes = this.opts.windowBytes ?? ETCD_FLOW_CONTROL_WINDOW
    const c = this.target.credentials
    // The certificate is checked for `localhost`, as the etcd3 client checks it (src/etcd/client.ts): dr reaches a
    // member through a tunnel that ends on 127.0.0.1.
    const tls = c ? { ca: c.ca, cert: c.cert, key: c.key, servername: 'localhost' } : {}
    const session = http2.connect(this.target.url, { ...tls, settings: { initialWindowSize: windowBytes } })
    this.session = session
    session.on('error', (e) => this.failed(e))
    session.on('connect', () => {
      this.connected = true
      session.setLocalWindowSize(windowBytes)
    })
    this.timer = setTimeout(() => this.destroy(new SnapshotRpcError(`the snapshot did not end within ${timeoutMs} ms`, 'DEADLINE_EXCEEDED')), timeoutMs)
    const req = session.request({
      ':method': 'POST',
      ':path': SNAPSHOT_PATH,
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-timeout': `${Math.min(Math.ceil(timeoutMs / 1000), 99_999_999)}S`,
      'user-agent': 'dr',
    })
    this.req = req
    req.on('response', (headers) => {
      if (headers[':status'] !== 200) this.destroy(new SnapshotRpcError(`etcd answered HTTP ${headers[':status']}, not gRPC`))
      else if (headers['grpc-status'] !== undefined) this.status = headers // refused at once: no messages follow
    })
    req.on('trailers', (t) => (this.status = t))
    req.on('data', (d: Buffer) => this.received(d))
    req.on('end', () => this.ended())
    req.on('error', (e) => this.failed(e))
    // A connection that closes while the stream is paused (dr not reading: a slow store) destroys the request with
    // neither 'end' nor 'error' (node's http2 waits for 'end' only after a clean close): without this the snapshot
    // would wait forever. A clean end has emitted 'end' by the time 'close' comes.
    req.on('close', () => {
      if (!req.readableEnded) this.failed(new Error(`the connection closed before the snapshot ended${req.rstCode && req.rstCode !== http2.constants.NGHTTP2_CANCEL ? ` (HTTP/2 stream reset, code ${req.rstCode})` : ''}`))
    })
    req.end(EMPTY_REQUEST)
    cb()
  }

  /** A connection or stream error, named for where it happened: before etcd answered (TLS, refused) or after. */
  private failed(e: Error) {
    // The session's own error reaches the stream first, wrapped as "the pending stream has been canceled".
    const root = (e as NodeJS.ErrnoException).code === 'ERR_HTTP2_STREAM_CANCEL' && e.cause instanceof Error ? e.cause : e
    const where = this.connected ? `the snapshot stream from ${this.target.url} broke` : `cannot reach etcd at ${this.target.url}`
    this.destroy(new SnapshotRpcError(`${where}: ${root.message}`, undefined, { cause: root }))
  }

  private received(d: Buffer) {
    this.pending.add(d)
    for (;;) {
      if (this.messageBytes === undefined) {
        if (this.pending.bytes < 5) return
        const head = this.pending.take(5)
        if (head[0] !== 0) return void this.destroy(new SnapshotRpcError('etcd sent a compressed message, which dr did not ask for'))
        this.messageBytes = head.readUInt32BE(1)
        if (this.messageBytes > MAX_MESSAGE) return void this.destroy(new SnapshotRpcError(`etcd sent a message of ${this.messageBytes} bytes; snapshot messages are 32 KiB`))
      }
      if (this.pending.bytes < this.messageBytes) return
      let blob: Buffer
      try {
        blob = snapshotBlob(this.pending.take(this.messageBytes))
      } catch (e) {
        return void this.destroy(e as Error)
      }
      this.messageBytes = undefined
      if (blob.length > 0 && !this.push(blob)) this.req!.pause()
    }
  }

  private ended() {
    if (this.destroyed) return
    if (!this.status) return void this.destroy(new SnapshotRpcError('the snapshot stream ended without a gRPC status: the connection to etcd was cut'))
    const failed = statusError(this.status)
    if (failed) return void this.destroy(failed)
    const left = this.pending.bytes + (this.messageBytes === undefined ? 0 : 5)
    if (left > 0) return void this.destroy(new SnapshotRpcError(`the snapshot stream ended inside a message (${left} bytes left over)`))
    this.close()
    this.push(null)
  }

  override _read() {
    this.req?.resume()
  }

  private close() {
    clearTimeout(this.timer)
    if (this.req && !this.req.closed) this.req.close(http2.constants.NGHTTP2_CANCEL)
    this.session?.destroy()
  }

  override _destroy(e: Error | null, cb: (e?: Error | null) => void) {
    this.close()
    cb(e)
  }
}

/** The member's snapshot as a byte stream (etcd's sha256 trailer included, as `etcdctl snapshot save` receives it). */
export function snapshotStream(target: SnapshotTarget, opts: SnapshotStreamOptions = {}): Readable {
  return new SnapshotStream(target, opts)
}
