// The failover's decision (which site, which survivor, which method, the safety snapshot) is written down
// before anything changes, so a run killed half way resumes with the same survivor even when that member is,
// at that moment, down between two re-creations.
import fs from 'node:fs'
import path from 'node:path'

export interface FailoverDecision {
  site: string
  survivor: string
  method: 'force-new-cluster' | 'restore'
  decidedAt: string
  /** A timestamp used in the names of everything kept aside (etcd-old-…, data dir copies). */
  tag: string
  /** The fresh cluster token of the restore method. */
  token?: string
  snapshot?: { path: string; sha256: string; size: number; keys: number; revision: number }
  /** Counted right after etcd was rebuilt, before Kubernetes starts changing things again. */
  recovered?: { keys: number; revision: number; at: string }
  completedAt?: string
}

const file = (stateDir: string, site: string) => path.join(stateDir, 'failover', `site-${site}.json`)

export function readDecision(stateDir: string, site: string): FailoverDecision | undefined {
  try {
    return JSON.parse(fs.readFileSync(file(stateDir, site), 'utf8')) as FailoverDecision
  } catch {
    return undefined
  }
}

export function writeDecision(stateDir: string, d: FailoverDecision): void {
  const f = file(stateDir, d.site)
  fs.mkdirSync(path.dirname(f), { recursive: true, mode: 0o700 })
  fs.writeFileSync(`${f}.tmp`, JSON.stringify(d, null, 2), { mode: 0o600 })
  fs.renameSync(`${f}.tmp`, f)
}

export const decisionPath = file

/** Keep an older failover's decision beside the new one (site-B.json → site-B.<tag>.json). */
export function archiveDecision(stateDir: string, site: string): void {
  const old = readDecision(stateDir, site)
  if (old) fs.renameSync(file(stateDir, site), file(stateDir, site).replace(/\.json$/, `.${old.tag}.json`))
}
