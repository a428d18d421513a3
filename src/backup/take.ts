// `dr backup now` without the CLI: read the member's status, stream its snapshot through the pipeline into the
// store (spooled locally until the store has it), then write the metadata record. The client can come from an
// SSH tunnel (connectMember) or a plain loopback connection; this code does not care.
import path from 'node:path'
import type { Etcd3 } from 'etcd3'
import type { SnapshotTarget } from '../etcd/snapshot-stream.ts'
import { fsyncFileAndDir, writeFileDurableSync } from '../core/durable.ts'
import { DrError } from '../core/error.ts'
import { backupId, metadataName, payloadName } from './naming.ts'
import { encodeMetadata, type BackupMetadata } from './metadata.ts'
import { DEFAULT_COMPRESSION, type Compression } from './codec.ts'
import { encodeSnapshot, snapshotSource } from './pipeline.ts'
import type { BackupStore } from './store.ts'
import { errorMessage, spooledUpload, uploadSmall, type RetryPolicy } from './upload.ts'

export interface SnapshotMember {
  /** Inventory host name (or a label for a loopback test member). */
  host: string
  endpoint?: string
  /** For the status and key counts. */
  client: Etcd3
  /** Where the snapshot is read from: the same member as `client`. */
  snapshot: SnapshotTarget
}

export interface TakeBackupOptions {
  cluster: string
  member: SnapshotMember
  store: BackupStore
  recipients: string[]
  /** Local directory for the spool (kept when the store fails). */
  spoolDir: string
  /** The codec (codec.ts); brotli when not given. */
  compression?: Compression
  retry?: RetryPolicy
  drVersion: string
  snapshotTimeoutMs?: number
  signal?: AbortSignal
  now?: () => Date
  onRetry?: (attempt: number, delayMs: number, error: unknown) => void
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  /** Told as each phase ends (the benchmark's breakdown of a backup's fixed cost). */
  onPhase?: (what: string) => void
}

export interface TakenBackup {
  metadata: BackupMetadata
  location: string
  durationMs: number
  uploadAttempts: number
}

async function memberStatus(client: Etcd3, host: string) {
  try {
    const s = await client.maintenance.status()
    return { revision: Number(s.header.revision), raftIndex: Number(s.raftIndex), version: s.version, memberId: s.header.member_id }
  } catch (e) {
    throw new DrError({
      code: 'backup.member-unreachable',
      message: `cannot read the status of etcd on ${host}: ${errorMessage(e)}`,
      host,
      doing: 'read the member status before the snapshot',
      hint: 'check the member with `dr status`, or pick another one with --member',
      cause: e,
    })
  }
}

export async function takeBackup(o: TakeBackupOptions): Promise<TakenBackup> {
  const started = Date.now()
  const phase = o.onPhase ?? (() => {})
  const before = await memberStatus(o.member.client, o.member.host)
  phase('member status read')
  const createdAt = (o.now ?? (() => new Date()))()
  const id = backupId(o.cluster, createdAt, before.revision)
  const compression = o.compression ?? DEFAULT_COMPRESSION
  const encrypted = o.recipients.length > 0
  const name = payloadName(id, { compression, encrypted })
  const ctx = { store: o.store, spoolDir: o.spoolDir, retry: o.retry, signal: o.signal, onRetry: o.onRetry, sleep: o.sleep }

  // The payload stays invisible (a temporary name, an unfinished multipart upload) until its metadata is stored.
  let commit!: () => void
  let cancel!: (e: unknown) => void
  const committed = new Promise<void>((resolve, reject) => ((commit = resolve), (cancel = reject)))
  committed.catch(() => undefined) // observed by the store's save; this only keeps it from being "unhandled"
  const upload = await spooledUpload({ ...ctx, name, commit: committed })
  let encoded
  try {
    encoded = await encodeSnapshot(snapshotSource(o.member.snapshot, { timeoutMs: o.snapshotTimeoutMs }), upload.sink, {
      recipients: o.recipients,
      compression,
      signal: o.signal,
    })
  } catch (e) {
    cancel(e)
    await upload.discard()
    if (o.signal?.aborted) throw e
    throw new DrError({
      code: 'backup.snapshot-failed',
      message: `the snapshot of etcd on ${o.member.host} failed: ${errorMessage(e)}`,
      host: o.member.host,
      doing: 'stream the snapshot',
      hint: 'check the member with `dr status`; nothing was stored',
      cause: e,
    })
  }
  phase('snapshot streamed to the spool and the store')
  if (!encoded.trailerValid) {
    cancel(new Error('corrupt snapshot'))
    await upload.discard()
    throw new DrError({
      code: 'backup.snapshot-corrupt',
      message: `the snapshot from ${o.member.host} does not match its own sha256 trailer`,
      host: o.member.host,
      hint: 'the member may have a damaged database; take the backup from another member (--member)',
    })
  }
  const after = await memberStatus(o.member.client, o.member.host)
  const exact = after.revision === before.revision
  // The key count at the snapshot's revision. When writes landed meanwhile, it is still known if the count is
  // the same at both ends (updates to existing keys, like heartbeats, do not change it).
  const countAt = (rev: number) => o.member.client.getAll().revision(rev).serializable(true).count().catch(() => undefined)
  const keysBefore = await countAt(before.revision)
  const keyCount = exact || keysBefore === (await countAt(after.revision)) ? keysBefore : undefined
  phase('member status and key count read again')
  const metadata: BackupMetadata = {
    format: 'dr-backup/1',
    id,
    cluster: o.cluster,
    member: { host: o.member.host, endpoint: o.member.endpoint, id: before.memberId },
    etcdVersion: before.version,
    revision: before.revision,
    ...(exact ? {} : { revisionMax: after.revision }),
    ...(keyCount === undefined ? {} : { keyCount }),
    raftIndex: before.raftIndex,
    createdAt: createdAt.toISOString(),
    durationMs: Date.now() - started,
    snapshot: encoded.snapshot,
    stored: { name, ...encoded.stored },
    compression,
    encryption: { type: encrypted ? 'age' : 'none', recipients: o.recipients },
    drVersion: o.drVersion,
  }
  // Keep the metadata beside the spooled snapshot when the store fails: together they are a complete backup, on
  // disk before dr says where it is. The store's failure stays the error; a local disk that fails too is said in it.
  const keepLocally = async (): Promise<string> => {
    try {
      writeFileDurableSync(path.join(o.spoolDir, metadataName(id)), encodeMetadata(metadata))
      await fsyncFileAndDir(upload.spoolPath)
      return ''
    } catch (e) {
      return ` (but keeping it locally failed too: ${errorMessage(e)})`
    }
  }
  const keptHint = (failed: string) =>
    `the backup is kept locally at ${upload.spoolPath} (metadata beside it)${failed}; fix the store and copy both there, or run \`dr backup now\` again`
  try {
    await uploadSmall({ ...ctx, name: metadataName(id) }, encodeMetadata(metadata))
  } catch (e) {
    cancel(e)
    await upload.abandon()
    const failed = await keepLocally()
    throw e instanceof DrError ? new DrError({ code: e.code, message: e.message, doing: e.doing, details: e.details, cause: e, hint: keptHint(failed) }) : e
  }
  phase('metadata record stored')
  crashHook('backup-before-commit')
  commit()
  let attempts: number
  try {
    ;({ attempts } = await upload.finish())
  } catch (e) {
    const failed = await keepLocally()
    throw e instanceof DrError ? new DrError({ code: e.code, message: e.message, doing: e.doing, details: e.details, cause: e, hint: keptHint(failed) }) : e
  }
  return { metadata, location: o.store.location(name), durationMs: Date.now() - started, uploadAttempts: attempts }
}

/** For the fault tests: die like `kill -9` at a named point. Never set in production. */
function crashHook(point: string) {
  if (process.env.DR_TEST_CRASH_AT === point) process.kill(process.pid, 'SIGKILL')
}
