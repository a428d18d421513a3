// Self-describing snapshot names: cluster, time and revision are in the name, so a listing needs no index
// (gardener's etcd-backup-restore does the same). One backup is two objects: the payload and its metadata.
//
//   <cluster>_<YYYYMMDDTHHMMSSZ>_r<revision>.db[.br|.gz][.age]     the snapshot (codec.ts: brotli, gzip or none)
//   <cluster>_<YYYYMMDDTHHMMSSZ>_r<revision>.meta.json       what it is (see metadata.ts)
//
// Temporary objects start with a dot and end in `.partial`; the parser ignores them, so an unfinished upload is
// never listed.

import { COMPRESSIONS, COMPRESSION_SUFFIX, type Compression } from './codec.ts'

export interface BackupName {
  /** The id: the name without extensions. */
  id: string
  cluster: string
  createdAt: Date
  revision: number
  compression: Compression
  encrypted: boolean
}

const CLUSTER = /^[A-Za-z0-9][A-Za-z0-9.-]*$/
const PAYLOAD = /^(?<cluster>[A-Za-z0-9][A-Za-z0-9.-]*)_(?<time>\d{8}T\d{6}Z)_r(?<rev>\d+)\.db(?<z>\.br|\.gz)?(?<age>\.age)?$/
const META = /^(?<id>[A-Za-z0-9][A-Za-z0-9.-]*_\d{8}T\d{6}Z_r\d+)\.meta\.json$/
const ID = /^(?<cluster>[A-Za-z0-9][A-Za-z0-9.-]*)_(?<time>\d{8}T\d{6}Z)_r(?<rev>\d+)$/

export function isValidClusterName(cluster: string): boolean {
  return CLUSTER.test(cluster)
}

/** 2026-11-21T22:20:00.123Z → 20261121T222000Z (seconds resolution, UTC). */
export function compactTime(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '')
}

export function parseCompactTime(s: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s)
  if (!m) throw new Error(`not a compact UTC time: ${s}`)
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]))
}

export function backupId(cluster: string, createdAt: Date, revision: number): string {
  if (!isValidClusterName(cluster)) throw new Error(`cluster name "${cluster}" cannot be used in a backup name (letters, digits, '.', '-')`)
  return `${cluster}_${compactTime(createdAt)}_r${revision}`
}

export function payloadName(id: string, opts: { compression: Compression; encrypted: boolean }): string {
  return `${id}.db${COMPRESSION_SUFFIX[opts.compression]}${opts.encrypted ? '.age' : ''}`
}

export const metadataName = (id: string) => `${id}.meta.json`

/** The temporary name an object is written under before it is renamed into view. */
export const partialName = (name: string, nonce: string) => `.${name}.${nonce}.partial`
export const isPartialName = (name: string) => name.startsWith('.') && name.endsWith('.partial')

export function parseId(id: string): Pick<BackupName, 'id' | 'cluster' | 'createdAt' | 'revision'> | undefined {
  const m = ID.exec(id)
  if (!m?.groups) return undefined
  return { id, cluster: m.groups.cluster, createdAt: parseCompactTime(m.groups.time), revision: Number(m.groups.rev) }
}

export function parsePayloadName(name: string): BackupName | undefined {
  const m = PAYLOAD.exec(name)
  if (!m?.groups) return undefined
  const id = `${m.groups.cluster}_${m.groups.time}_r${m.groups.rev}`
  return {
    id,
    cluster: m.groups.cluster,
    createdAt: parseCompactTime(m.groups.time),
    revision: Number(m.groups.rev),
    compression: COMPRESSIONS.find((c) => COMPRESSION_SUFFIX[c] === (m.groups!.z ?? ''))!,
    encrypted: !!m.groups.age,
  }
}

export function parseMetadataName(name: string): string | undefined {
  return META.exec(name)?.groups?.id
}
