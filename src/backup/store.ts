// A backup store is four operations (gardener's etcd-backup-restore has the same seam): List, Fetch, Save, Delete.
// Save is atomic: an object is either absent or complete (temporary name then rename; multipart completion on S3).
import { Transform, type Readable } from 'node:stream'
import type { StoreConfig } from '../inventory/types.ts'
import type { Transport } from '../transport/types.ts'

export interface StoredObject {
  name: string
  size: number
  modifiedAt?: Date
}

export interface SaveOptions {
  /** Size in bytes when known (lets S3 pick a part size). */
  size?: number
  signal?: AbortSignal
  /**
   * The object becomes visible only after this resolves, once every byte is stored under its temporary name (or
   * in the unfinished multipart upload); when it rejects, the save fails and nothing becomes visible. A backup
   * writes its metadata record first and then lets its payload appear, so a listed payload always has one.
   */
  commit?: Promise<void>
}

export interface BackupStore {
  readonly name: string
  readonly type: StoreConfig['type']
  /** Every complete object in the store (temporary ones excluded). */
  list(): Promise<StoredObject[]>
  fetch(name: string): Promise<Readable>
  /** Consume `source` into the object `name`; visible only once complete. Returns the stored size. */
  save(name: string, source: Readable, opts?: SaveOptions): Promise<{ size: number }>
  delete(name: string): Promise<void>
  /** Where an object is, for humans and `list --json`: a path, host:path, or s3:// URL. */
  location(name: string): string
  close(): Promise<void>
}

/** Something that hands out transports per host: Connections, or a test's own. */
export interface TransportSource {
  get(hostName: string): Promise<Transport>
}

export interface StoreDeps {
  /** For sftp stores. */
  transports?: TransportSource
  env?: NodeJS.ProcessEnv
}

export async function openStore(cfg: StoreConfig, deps: StoreDeps = {}): Promise<BackupStore> {
  switch (cfg.type) {
    case 'dir': {
      const { DirStore } = await import('./store-dir.ts')
      return new DirStore(cfg.name, cfg.path)
    }
    case 'sftp': {
      const { SftpStore } = await import('./store-sftp.ts')
      if (!deps.transports) throw new Error('an sftp store needs SSH connections')
      return new SftpStore(cfg.name, cfg.host, cfg.path, () => deps.transports!.get(cfg.host))
    }
    case 's3': {
      const { S3Store } = await import('./store-s3.ts')
      return new S3Store(cfg, deps.env ?? process.env)
    }
  }
}

/** A pass-through stream that counts the bytes a store writes. */
export function byteCounter(): { stream: Transform; size: () => number } {
  let size = 0
  const stream = new Transform({
    transform(chunk: Buffer, _e, cb) {
      size += chunk.length
      cb(null, chunk)
    },
  })
  return { stream, size: () => size }
}
