// What a store holds: payload objects parsed by name, joined with their metadata records.
import type { Readable } from 'node:stream'
import type { Compression } from './codec.ts'
import { decodeMetadata, type BackupMetadata } from './metadata.ts'
import { metadataName, parsePayloadName } from './naming.ts'
import type { BackupStore } from './store.ts'

export interface BackupEntry {
  id: string
  store: string
  location: string
  cluster: string
  /** Bytes stored (after compression and encryption). */
  size: number
  /** sha256 of the raw snapshot (what `etcdctl snapshot save` would have written); null without metadata. */
  sha256: string | null
  storedSha256: string | null
  revision: number
  createdAt: string
  compression: Compression
  encrypted: boolean
  payload: string
  member: string | null
  metadata?: BackupMetadata
  /** Why this entry cannot be trusted as is (missing or unreadable metadata, size mismatch). */
  problems: string[]
}

export async function readAll(s: Readable, limit = 1 << 20): Promise<Buffer> {
  const chunks: Buffer[] = []
  let n = 0
  for await (const c of s) {
    n += (c as Buffer).length
    if (n > limit) throw new Error(`more than ${limit} bytes`)
    chunks.push(c as Buffer)
  }
  // An SFTP read stream closes its remote handle after 'end'; wait for that, or closing the connection right
  // after would fail the close with an unhandled error.
  if (!s.closed) await new Promise<void>((r) => s.once('close', () => r()).once('error', () => r()))
  return Buffer.concat(chunks)
}

export async function readMetadata(store: BackupStore, id: string): Promise<BackupMetadata> {
  const name = metadataName(id)
  return decodeMetadata(await readAll(await store.fetch(name)), store.location(name))
}

/** Every backup in the store, oldest first; `cluster` filters by cluster name. */
export async function listBackups(store: BackupStore, opts: { cluster?: string } = {}): Promise<BackupEntry[]> {
  const objects = await store.list()
  const names = new Set(objects.map((o) => o.name))
  const entries: BackupEntry[] = []
  for (const o of objects) {
    const parsed = parsePayloadName(o.name)
    if (!parsed || (opts.cluster && parsed.cluster !== opts.cluster)) continue
    const problems: string[] = []
    let metadata: BackupMetadata | undefined
    if (!names.has(metadataName(parsed.id))) problems.push('no metadata record')
    else {
      try {
        metadata = await readMetadata(store, parsed.id)
      } catch (e) {
        problems.push(`metadata unreadable: ${(e as Error).message}`)
      }
    }
    if (metadata && metadata.stored.size !== o.size) problems.push(`size ${o.size} differs from the recorded ${metadata.stored.size} (truncated or replaced)`)
    entries.push({
      id: parsed.id,
      store: store.name,
      location: store.location(o.name),
      cluster: parsed.cluster,
      size: o.size,
      sha256: metadata?.snapshot.sha256 ?? null,
      storedSha256: metadata?.stored.sha256 ?? null,
      revision: parsed.revision,
      createdAt: metadata?.createdAt ?? parsed.createdAt.toISOString(),
      compression: parsed.compression,
      encrypted: parsed.encrypted,
      payload: o.name,
      member: metadata?.member.host ?? null,
      metadata,
      problems,
    })
  }
  return entries.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.revision - b.revision)
}

export async function findBackup(store: BackupStore, id: string): Promise<BackupEntry | undefined> {
  return (await listBackups(store)).find((e) => e.id === id || e.payload === id)
}

