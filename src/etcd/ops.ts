// etcd operations the runbooks share: wait for a writable leader, prove a write, count keys, snapshot to a file.
import fs from 'node:fs'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { Etcd3 } from 'etcd3'
import { fsyncDirSync } from '../core/durable.ts'
import { DrError } from '../core/error.ts'
import { DigestStream } from '../backup/digest.ts'
import { snapshotStream, type SnapshotTarget } from './snapshot-stream.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * A write that leaves nothing behind: a key on a short lease. It needs a leader and a quorum, which is exactly
 * what it proves; the lease removes the key by itself.
 */
export async function proveWrite(client: Etcd3, tag: string): Promise<void> {
  const lease = client.lease(30, { autoKeepAlive: false })
  try {
    await lease.put(`dr/probe/${tag}`).value(new Date().toISOString())
  } finally {
    await lease.revoke().catch(() => {})
  }
}

/** Wait until the member answers a linearizable read and accepts a write; returns how long it took. */
export async function waitWritable(client: Etcd3, tag: string, timeoutMs = 60_000, host?: string): Promise<number> {
  const started = Date.now()
  let last: unknown
  while (Date.now() - started < timeoutMs) {
    try {
      await client.get('dr/probe/none').exists()
      await proveWrite(client, tag)
      return Date.now() - started
    } catch (e) {
      last = e
      await sleep(500)
    }
  }
  throw new DrError({
    code: 'etcd.not-writable',
    message: `etcd did not become writable within ${Math.round(timeoutMs / 1000)} s`,
    host,
    hint: `look at the member's log: docker logs --tail 50 etcd on ${host ?? 'the host'}`,
    stderr: last instanceof Error ? last.message : String(last),
  })
}

/** Every key's count, read from this member alone (works without quorum). */
export async function keyCount(client: Etcd3, opts: { serializable?: boolean } = {}): Promise<number> {
  const b = client.getAll()
  if (opts.serializable) b.serializable(true)
  return b.count()
}

export interface SnapshotFile {
  path: string
  size: number
  sha256: string
}

/**
 * Stream a member's snapshot to a local file (mode 0600), hashing as it goes, on disk (fsynced, the directory too)
 * before it is named as kept. Works on a member without quorum.
 */
export async function snapshotToFile(target: SnapshotTarget, file: string): Promise<SnapshotFile> {
  const tmp = `${file}.part`
  const digest = new DigestStream()
  await pipeline(snapshotStream(target), digest, fs.createWriteStream(tmp, { mode: 0o600, flush: true }))
  const { size, sha256 } = digest.digest()
  if (size === 0) throw new DrError({ code: 'etcd.snapshot-empty', message: 'the member sent an empty snapshot' })
  fs.renameSync(tmp, file)
  fsyncDirSync(path.dirname(file))
  return { path: file, size, sha256 }
}
