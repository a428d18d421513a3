// What every check returns: one result per thing looked at, OK / WARN / FAIL, with the evidence it saw and the
// fix to try. `dr check` renders them; `dr doctor` reads the same results for its signatures.
export type Status = 'ok' | 'warn' | 'fail'
export type Category = 'preflight' | 'nodes' | 'etcd' | 'kubernetes' | 'backups'
export const CATEGORIES: readonly Category[] = ['preflight', 'nodes', 'etcd', 'kubernetes', 'backups']

export interface CheckResult {
  /** Stable id: 'docker-running', 'etcd-alarms' … */
  check: string
  category: Category
  /** A host name, 'cluster', or 'store NAME'. */
  subject: string
  status: Status
  message: string
  /** What was seen: command output lines, inspect fields, log lines. */
  evidence?: string[]
  /** What to do about it (only for warn/fail). */
  fix?: string
}

const rank: Record<Status, number> = { ok: 0, warn: 1, fail: 2 }
export const worst = (rs: Array<{ status: Status }>): Status => rs.reduce<Status>((w, r) => (rank[r.status] > rank[w] ? r.status : w), 'ok')

export const ok = (category: Category, check: string, subject: string, message: string, evidence?: string[]): CheckResult => ({ category, check, subject, status: 'ok', message, evidence })
export const problem = (status: 'warn' | 'fail', category: Category, check: string, subject: string, message: string, fix: string, evidence?: string[]): CheckResult => ({ category, check, subject, status, message, fix, evidence })
