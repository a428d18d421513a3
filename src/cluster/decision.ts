// The failover's decision (which site, which survivor, which method, the safety snapshot) is written down
// before anything changes, so a run killed half way resumes with the same survivor even when that member is,
// at that moment, down between two re-creations. The file is evidence, not a hint: one that exists but cannot be
// read or parsed stops the run with an error naming it, never silently a new survivor.
import fs from 'node:fs'
import path from 'node:path'
import { DrError } from '../core/error.ts'
import { readStateFile, writeStateFile } from '../core/state-file.ts'

export interface FailoverDecision {
  site: string
  survivor: string
  method: 'force-new-cluster' | 'restore'
  decidedAt: string
  /** A timestamp used in the names of everything kept aside (etcd-old-…, data dir copies). */
  tag: string
  /**
   * The survivor's own values (null: not set) of the flags its forced etcd runs with differently (etcd-rebuild.ts
   * FORCED_TUNING), recorded before anything changes them so the etcd after it gets them back. Absent in decisions
   * of older versions: then the forced etcd keeps the survivor's values.
   */
  survivorTuning?: Record<string, string | null>
  /** The fresh cluster token of the restore method. */
  token?: string
  snapshot?: { path: string; sha256: string; size: number; keys: number; revision: number }
  /** Counted right after etcd was rebuilt, before Kubernetes starts changing things again. */
  recovered?: { keys: number; revision: number; at: string }
  completedAt?: string
}

const file = (stateDir: string, site: string) => path.join(stateDir, 'failover', `site-${site}.json`)

/** What is wrong with a parsed decision, or undefined when it has every field a resumed run relies on. Pure. */
export function decisionProblem(d: unknown, site: string): string | undefined {
  if (!d || typeof d !== 'object' || Array.isArray(d)) return 'it is not a JSON object'
  const o = d as Record<string, unknown>
  for (const k of ['site', 'survivor', 'decidedAt', 'tag']) {
    if (typeof o[k] !== 'string' || o[k] === '') return `"${k}" is missing or not a string`
  }
  if (o.site !== site) return `it is for site ${String(o.site)}, not ${site}`
  if (o.method !== 'force-new-cluster' && o.method !== 'restore') return `"method" is ${JSON.stringify(o.method)}`
  if (o.method === 'restore' && typeof o.token !== 'string') return 'the restore method has no "token"'
  return undefined
}

const corrupt = (f: string, why: string, cause?: unknown) =>
  new DrError({
    code: 'failover.decision-corrupt',
    message: `the failover decision ${f} cannot be used: ${why}; nothing was changed`,
    hint: `look at it (it names the survivor and the safety snapshot of an earlier run), move it aside (mv ${f} ${f}.damaged), then run again: dr reads the cluster to decide what is left to do`,
    doing: `read ${f}`,
    exit: 'refused',
    cause,
  })

/** The decision file, undefined when there is none; throws failover.decision-corrupt when it cannot be trusted. */
export const readDecision = (stateDir: string, site: string): FailoverDecision | undefined =>
  readStateFile<FailoverDecision>(file(stateDir, site), (d) => decisionProblem(d, site), corrupt)

export const writeDecision = (stateDir: string, d: FailoverDecision): void => writeStateFile(file(stateDir, d.site), d)

export const decisionPath = file

/** Keep an older failover's decision beside the new one (site-B.json → site-B.<tag>.json). */
export function archiveDecision(stateDir: string, site: string): void {
  const old = readDecision(stateDir, site)
  if (old) fs.renameSync(file(stateDir, site), file(stateDir, site).replace(/\.json$/, `.${old.tag}.json`))
}
