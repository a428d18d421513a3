// The drill's writer: numbered keys written one after another for the whole drill, through whichever etcd member
// answers, each attempt recorded with its timings and whether etcd acknowledged it. Afterwards the acknowledged
// keys are looked for in the recovered cluster: an acknowledged write that is missing is real data loss.
//
// Connections are opened in the background, never in the write path: a powered-off host takes the SSH connect
// timeout to fail, and the writer must keep its pace meanwhile. A member that fails a write is dropped and
// reopened (a fresh gRPC channel, so a restarted etcd is not waited out behind gRPC's reconnect backoff).
import type { Inventory } from '../inventory/types.ts'
import { hostsWithRole } from '../inventory/types.ts'
import { connectMember, type MemberConnection, type TransportSource } from '../etcd/client.ts'

export interface WriteSample {
  seq: number
  /** Milliseconds from the drill's start. */
  start: number
  end: number
  ok: boolean
  host?: string
  error?: string
}

export interface WriterOptions {
  prefix: string
  /** The drill's start (Date.now()); samples are relative to it. */
  t0: number
  intervalMs?: number
  callTimeoutMs?: number
}

type Member = { host: string; conn?: MemberConnection; connecting: boolean; nextTry: number }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export const writerKey = (prefix: string, seq: number) => `${prefix}${String(seq).padStart(8, '0')}`

export class Writer {
  readonly samples: WriteSample[] = []
  private members: Member[]
  private preferred = 0
  private running = false
  private loop?: Promise<void>
  private seq = 0

  constructor(
    private readonly conns: TransportSource,
    private readonly inv: Inventory,
    private readonly opts: WriterOptions,
  ) {
    this.members = hostsWithRole(inv, 'etcd').map((h) => ({ host: h.name, connecting: false, nextTry: 0 }))
  }

  private now = () => Date.now() - this.opts.t0

  /** Open connections to members that have none, in the background. */
  private reconnect() {
    for (const m of this.members) {
      if (m.conn || m.connecting || Date.now() < m.nextTry) continue
      m.connecting = true
      connectMember(this.conns, this.inv, m.host, { callTimeoutMs: this.opts.callTimeoutMs ?? 1500 })
        .then((c) => {
          if (this.running) m.conn = c
          else void c.close().catch(() => undefined) // stopped meanwhile: nobody will use it
        })
        .catch(() => (m.nextTry = Date.now() + 2000)) // dead host: try again later; failures show in the samples
        .finally(() => (m.connecting = false))
    }
  }

  private pick(): Member | undefined {
    const n = this.members.length
    for (let i = 0; i < n; i++) {
      const m = this.members[(this.preferred + i) % n]
      if (m.conn) return m
    }
    return undefined
  }

  private drop(m: Member) {
    const c = m.conn
    m.conn = undefined
    m.nextTry = Date.now() + 500
    // Closing a tunnel to a dead host can fail; the connection is gone either way.
    void c?.close().catch(() => undefined)
    this.preferred = (this.members.indexOf(m) + 1) % this.members.length
  }

  async writeOnce(): Promise<WriteSample> {
    this.reconnect()
    const m = this.pick()
    const seq = ++this.seq
    const start = this.now()
    if (!m) {
      await sleep(250)
      return { seq, start, end: this.now(), ok: false, error: 'no etcd member connected' }
    }
    try {
      await m.conn!.client.put(writerKey(this.opts.prefix, seq)).value(new Date().toISOString())
      this.preferred = this.members.indexOf(m)
      return { seq, start, end: this.now(), ok: true, host: m.host }
    } catch (e) {
      this.drop(m)
      return { seq, start, end: this.now(), ok: false, host: m.host, error: (e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 160) }
    }
  }

  start() {
    this.running = true
    this.reconnect()
    const interval = this.opts.intervalMs ?? 50
    this.loop = (async () => {
      while (this.running) {
        const s = await this.writeOnce()
        this.samples.push(s)
        const spent = s.end - s.start
        if (spent < interval) await sleep(interval - spent)
      }
    })()
  }

  async stop(): Promise<WriteSample[]> {
    this.running = false
    await this.loop
    await Promise.all(this.members.map(async (m) => m.conn?.close().catch(() => undefined)))
    for (const m of this.members) m.conn = undefined
    return this.samples
  }
}
