// A diagnosis: a known failure signature found in the cluster, with the evidence that matched it, the cause in
// words, and the fix (a runbook step set in runbooks/doctor/, or a command to run when dr cannot fix it).
export type SignatureId = 'ip-drift' | 'address-changed' | 'nospace' | 'cert-expiry' | 'etcd-servers' | 'quorum-lost' | 'stale-container'

export interface Diagnosis {
  id: SignatureId
  /** The host, member or 'cluster'. */
  subject: string
  title: string
  cause: string
  /** Log lines, inspect fields, command output that matched. */
  evidence: string[]
  /** What `dr doctor --fix` does, or what to run when it cannot. */
  fix: string
  /** `dr doctor --fix` has a runbook for it. */
  fixable: boolean
  /** Signature-specific data the fix runbook needs. */
  data?: Record<string, unknown>
}
