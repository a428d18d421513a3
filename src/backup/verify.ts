// `dr backup verify`: fetch, decrypt, decompress, check every digest, check the snapshot's own integrity, and
// restore it into a throwaway etcd. Every refusal happens before anything is written outside a scratch directory,
// so restore can use fetchSnapshot() as its gate.
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { DrError } from '../core/error.ts'
import { AgeKeyError } from './age-stream.ts'
import { findBackup, type BackupEntry } from './catalog.ts'
import type { BackupMetadata } from './metadata.ts'
import { decodeSnapshot } from './pipeline.ts'
import type { BackupStore } from './store.ts'
import { restoreThrowaway, snapshotStatus, type RestoredView, type SnapshotStatus } from './throwaway-etcd.ts'
import { errorMessage } from './upload.ts'

export interface Check {
  name: string
  ok: boolean
  detail: string
}

export interface FetchedSnapshot {
  entry: BackupEntry
  metadata: BackupMetadata
  /** The raw snapshot, mode 0600 in a private scratch directory. */
  file: string
  scratchDir: string
  status: SnapshotStatus
  checks: Check[]
  cleanup(): Promise<void>
}

const refuse = (code: string, id: string, message: string, hint: string, details?: unknown) =>
  new DrError({ code, message: `backup ${id}: ${message}`, hint, exit: 'refused', details })

/** Fetch and decode one backup into a scratch file, refusing anything that is not exactly what was stored. */
export async function fetchSnapshot(store: BackupStore, id: string, opts: { identities: string[]; scratchRoot?: string; signal?: AbortSignal }): Promise<FetchedSnapshot> {
  const entry = await findBackup(store, id)
  if (!entry) throw new DrError({ code: 'backup.not-found', message: `no backup ${id} in store "${store.name}"`, hint: 'run `dr backup list` to see the ids', exit: 'usage' })
  const m = entry.metadata
  if (!m) throw refuse('backup.no-metadata', id, entry.problems.join('; '), 'a backup without its metadata record cannot be verified; use another one')
  const checks: Check[] = []
  const older = 'use an older backup (`dr backup list`)'
  if (entry.size < m.stored.size) throw refuse('backup.truncated', id, `the stored object has ${entry.size} bytes, ${m.stored.size} were written`, older)
  if (entry.size !== m.stored.size) throw refuse('backup.corrupt', id, `the stored object has ${entry.size} bytes, ${m.stored.size} were written`, older)
  checks.push({ name: 'stored size', ok: true, detail: `${entry.size} bytes` })
  if (entry.encrypted && opts.identities.length === 0) {
    throw new DrError({ code: 'backup.no-identity', message: `backup ${id} is encrypted and no age identity is configured`, hint: 'set backup.encryption.identityFile in the inventory, or pass --identity FILE', exit: 'usage' })
  }

  const scratchDir = await fsp.mkdtemp(path.join(opts.scratchRoot ?? os.tmpdir(), 'dr-verify-'))
  await fsp.chmod(scratchDir, 0o700)
  const cleanup = () => fsp.rm(scratchDir, { recursive: true, force: true })
  const file = path.join(scratchDir, 'snapshot.db')
  try {
    let decoded
    try {
      decoded = await decodeSnapshot(await store.fetch(entry.payload), fs.createWriteStream(file, { mode: 0o600 }), {
        identities: opts.identities,
        compression: entry.compression,
        encrypted: entry.encrypted,
        signal: opts.signal,
      })
    } catch (e) {
      if (e instanceof AgeKeyError) throw refuse('backup.wrong-key', id, `cannot be decrypted with the configured identity (${e.message})`, 'check backup.encryption.identityFile: it must hold the key of one of the recipients the backup was made for')
      if (/unexpected end of file|truncat/i.test(errorMessage(e))) throw refuse('backup.truncated', id, `the stored object ends early (${errorMessage(e)})`, older)
      throw refuse('backup.corrupt', id, `decrypting or decompressing failed (${errorMessage(e)})`, older)
    }
    if (decoded.stored.sha256 !== m.stored.sha256) throw refuse('backup.corrupt', id, `the stored object's sha256 ${decoded.stored.sha256} is not the recorded ${m.stored.sha256}`, older)
    checks.push({ name: 'stored sha256', ok: true, detail: m.stored.sha256 })
    if (entry.encrypted) checks.push({ name: 'age decryption', ok: true, detail: `authenticated (${m.encryption.recipients.length} recipient(s))` })
    if (decoded.snapshot.sha256 !== m.snapshot.sha256 || decoded.snapshot.size !== m.snapshot.size) {
      throw refuse('backup.corrupt', id, `the snapshot's sha256/size ${decoded.snapshot.sha256}/${decoded.snapshot.size} is not the recorded ${m.snapshot.sha256}/${m.snapshot.size}`, older)
    }
    checks.push({ name: 'snapshot sha256', ok: true, detail: `${m.snapshot.sha256} (${m.snapshot.size} bytes)` })
    if (!decoded.trailerValid) throw refuse('backup.corrupt', id, "the snapshot does not match etcd's own sha256 trailer", older)
    checks.push({ name: 'etcd integrity hash', ok: true, detail: 'sha256 trailer matches' })
    const status = await snapshotStatus(file)
    checks.push({ name: 'snapshot status', ok: true, detail: `revision ${status.revision}, ${status.totalKey} bolt keys, ${status.totalSize} bytes` })
    return { entry, metadata: m, file, scratchDir, status, checks, cleanup }
  } catch (e) {
    await cleanup()
    throw e
  }
}

export interface VerifyReport {
  id: string
  store: string
  ok: boolean
  revision: number
  keyCount: number
  checks: Check[]
  durationMs: number
}

export function revisionMatches(m: BackupMetadata, revision: number): boolean {
  return m.revisionMax === undefined ? revision === m.revision : revision >= m.revision && revision <= m.revisionMax
}

export async function verifyBackup(store: BackupStore, id: string, opts: { identities: string[]; scratchRoot?: string; signal?: AbortSignal }): Promise<VerifyReport> {
  const started = Date.now()
  const got = await fetchSnapshot(store, id, opts)
  let restored: RestoredView
  try {
    restored = await restoreThrowaway(got.file, got.scratchDir)
  } finally {
    await got.cleanup()
  }
  const m = got.metadata
  const checks = [...got.checks]
  const want = m.revisionMax === undefined ? `${m.revision}` : `${m.revision}..${m.revisionMax}`
  checks.push({ name: 'restored revision', ok: revisionMatches(m, restored.revision), detail: `${restored.revision} (recorded ${want})` })
  if (m.keyCount !== undefined) checks.push({ name: 'restored key count', ok: restored.keyCount === m.keyCount, detail: `${restored.keyCount} (recorded ${m.keyCount})` })
  else checks.push({ name: 'restored key count', ok: true, detail: `${restored.keyCount} (not recorded: writes landed during the snapshot)` })
  return { id: got.entry.id, store: store.name, ok: checks.every((c) => c.ok), revision: restored.revision, keyCount: restored.keyCount, checks, durationMs: Date.now() - started }
}
