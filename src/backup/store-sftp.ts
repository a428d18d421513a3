// A directory on another host, reached over dr's SSH transport (SFTP for files). Objects are written under a
// hidden temporary name, fsynced, and renamed into view, the directory fsynced after: a cut connection never leaves
// a half object that looks whole, and an object dr called stored is still there after the host loses power.
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { Readable, type Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Transport } from '../transport/types.ts'
import { isPartialName, partialName } from './naming.ts'
import { byteCounter, type BackupStore, type SaveOptions, type StoredObject } from './store.ts'

export class SftpStore implements BackupStore {
  readonly type = 'sftp' as const
  constructor(
    readonly name: string,
    readonly host: string,
    readonly dir: string,
    private readonly transport: () => Promise<Transport>,
  ) {}

  private file(name: string) {
    return path.posix.join(this.dir, name)
  }

  async list(): Promise<StoredObject[]> {
    const t = await this.transport()
    const names = (await t.readdir(this.dir)).filter((n) => !isPartialName(n) && n !== '.' && n !== '..')
    if (names.length === 0) return []
    // SFTP readdir gives names only here; one `stat` call gets every size and mtime.
    const r = await t.$`stat -c ${'%s %Y %n'} -- ${names.map((n) => this.file(n))}`.nothrow()
    const out: StoredObject[] = []
    for (const line of r.stdout.split('\n')) {
      const m = /^(\d+) (\d+) (.*)$/.exec(line)
      if (!m) continue
      out.push({ name: path.posix.basename(m[3]), size: Number(m[1]), modifiedAt: new Date(Number(m[2]) * 1000) })
    }
    return out
  }

  async fetch(name: string): Promise<Readable> {
    const t = await this.transport()
    const s = await t.createReadStream(this.file(name))
    return s instanceof Readable ? s : new Readable().wrap(s)
  }

  async save(name: string, source: Readable, opts: SaveOptions = {}): Promise<{ size: number }> {
    const t = await this.transport()
    await t.mkdir(this.dir, { mode: 0o700 }).catch(async () => {
      await t.$`mkdir -p -m 700 ${this.dir}`
    })
    const tmp = this.file(partialName(name, randomBytes(4).toString('hex')))
    const count = byteCounter()
    let dead = false
    try {
      // Durable before visible: the data fsynced before the file closes, then the rename, then the directory.
      const sink = (await t.createWriteStream(tmp, { mode: 0o600, durable: true })) as Writable
      // A connection that dies (the host gone, sshd killed) must fail the upload, not leave it waiting forever.
      // (ssh2's write stream then never finishes destroying itself: waiting for the pipeline would hang.)
      const conn = (t as { client?: NodeJS.EventEmitter }).client
      let onClose = () => {}
      const closed = new Promise<never>((_, reject) => {
        onClose = () => {
          dead = true
          const e = new Error(`the SSH connection to ${this.host} closed during the upload`)
          source.destroy(e)
          reject(e)
        }
      })
      closed.catch(() => undefined) // raced below; this only keeps a late rejection from being "unhandled"
      conn?.once('close', onClose)
      try {
        await Promise.race([pipeline(source, count.stream, sink, { signal: opts.signal }), closed])
      } finally {
        conn?.off('close', onClose)
      }
      await opts.commit
      await t.rename(tmp, this.file(name), { durable: true })
    } catch (e) {
      // Over a dead connection nothing can be removed (and the call would never return): the hidden temporary
      // file stays, never listed.
      if (!dead) await t.unlink(tmp).catch(() => undefined)
      throw e
    }
    return { size: count.size() }
  }

  async delete(name: string): Promise<void> {
    const t = await this.transport()
    await t.unlink(this.file(name))
  }

  location(name: string): string {
    return `${this.host}:${this.file(name)}`
  }

  async close() {}
}
