// A directory on this machine. Objects are written under a hidden temporary name, fsynced, then renamed.
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { fsyncDir } from '../core/durable.ts'
import { isPartialName, partialName } from './naming.ts'
import { byteCounter, type BackupStore, type SaveOptions, type StoredObject } from './store.ts'

export class DirStore implements BackupStore {
  readonly type = 'dir' as const
  constructor(
    readonly name: string,
    readonly dir: string,
  ) {}

  async list(): Promise<StoredObject[]> {
    let names: string[]
    try {
      names = await fsp.readdir(this.dir)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw e
    }
    const out: StoredObject[] = []
    for (const name of names) {
      if (isPartialName(name)) continue
      const st = await fsp.stat(path.join(this.dir, name)).catch(() => undefined)
      if (st?.isFile()) out.push({ name, size: st.size, modifiedAt: st.mtime })
    }
    return out
  }

  async fetch(name: string): Promise<Readable> {
    const file = path.join(this.dir, name)
    await fsp.access(file) // fail here, not on the first read
    return fs.createReadStream(file)
  }

  async save(name: string, source: Readable, opts: SaveOptions = {}): Promise<{ size: number }> {
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 })
    const tmp = path.join(this.dir, partialName(name, randomBytes(4).toString('hex')))
    const count = byteCounter()
    try {
      // Durable before visible: the data fsynced as the file closes, then the rename, then the directory fsynced.
      await pipeline(source, count.stream, fs.createWriteStream(tmp, { flags: 'wx', mode: 0o600, flush: true }), { signal: opts.signal })
      await opts.commit
      await fsp.rename(tmp, path.join(this.dir, name))
      await fsyncDir(this.dir)
    } catch (e) {
      await fsp.unlink(tmp).catch(() => {})
      throw e
    }
    return { size: count.size() }
  }

  async delete(name: string): Promise<void> {
    await fsp.unlink(path.join(this.dir, name))
  }

  location(name: string): string {
    return path.join(this.dir, name)
  }

  async close() {}
}
