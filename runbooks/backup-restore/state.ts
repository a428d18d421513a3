// The restore's record in the state directory (backup, fresh token, members), written before anything changes so
// a killed run resumes with the same token. It is evidence, not a switch: a damaged one stops the run naming the
// file, a finished one carries completedAt, and none of them ever lifts the quorum refusal (index.ts reads the
// cluster for that).
import path from 'node:path'
import { DrError } from '../../src/core/error.ts'
import { readStateFile, writeStateFile } from '../../src/core/state-file.ts'

export interface RestoreMember {
  host: string
  name: string
  peerUrl: string
  image: string
  restartPolicy: { Name: string; MaximumRetryCount?: number }
  /** How etcd runs on the host (absent in records written before kubeadm: a container). */
  kind?: 'container' | 'static-pod'
}

export interface RestoreDecision {
  id: string
  token: string
  startedAt: string
  sha256: string
  members: RestoreMember[]
  /** Set by the last step, once every member runs the restored data with the new token. */
  completedAt?: string
}

export const stateFile = (stateDir: string, id: string) => path.join(stateDir, 'restore', `${id}.json`)

/** What is wrong with a parsed restore state, or undefined. Pure. */
export function restoreStateProblem(d: unknown, id: string): string | undefined {
  if (!d || typeof d !== 'object' || Array.isArray(d)) return 'it is not a JSON object'
  const o = d as Record<string, unknown>
  if (o.id !== id) return `it is for backup ${JSON.stringify(o.id)}, not ${id}`
  for (const k of ['token', 'startedAt', 'sha256']) if (typeof o[k] !== 'string' || o[k] === '') return `"${k}" is missing or not a string`
  if (!Array.isArray(o.members) || o.members.length === 0) return '"members" is missing or empty'
  for (const m of o.members as Array<Record<string, unknown>>) {
    for (const k of ['host', 'name', 'peerUrl', 'image']) if (typeof m?.[k] !== 'string') return `a member has no "${k}"`
  }
  return undefined
}

const corrupt = (f: string, why: string, cause?: unknown) =>
  new DrError({
    code: 'restore.state-corrupt',
    message: `the restore state ${f} cannot be used: ${why}; nothing was changed`,
    hint: `look at it (it holds the cluster token of an earlier run), move it aside (mv ${f} ${f}.damaged), then run again: dr reads the cluster to see what is already restored`,
    doing: `read ${f}`,
    exit: 'refused',
    cause,
  })

export const readRestoreState = (stateDir: string, id: string): RestoreDecision | undefined =>
  readStateFile<RestoreDecision>(stateFile(stateDir, id), (d) => restoreStateProblem(d, id), corrupt)

export const writeRestoreState = (stateDir: string, d: RestoreDecision): void => writeStateFile(stateFile(stateDir, d.id), d)
