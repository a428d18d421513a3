// A runbook is data: an assessment that gathers facts (and may refuse), then named steps with
// check (read-only) → apply → verify. The engine in engine.ts plans, confirms, applies, journals and locks.
import type { Inventory } from '../inventory/types.ts'
import type { Output } from '../core/output.ts'
import type { TransportSource } from '../etcd/client.ts'
import type { Journal } from './journal.ts'

export interface Change {
  /** One line: "remove member etcd-master1 (dead)". */
  summary: string
  host?: string
  destructive?: boolean
  /** The exact command or container definition that will run, for the plan display. */
  command?: string
}

export interface StepContext<F> {
  inv: Inventory
  conns: TransportSource
  out: Output
  facts: F
  journal?: Journal
  /** Operator options of the run (--force, --method …), as the runbook declared them. */
  options: Record<string, unknown>
  /**
   * Given to `check` only: the ids of the earlier steps of this run that change the cluster (in a plan: whose
   * check listed changes; in an apply: that were applied). A step whose work appears only once an earlier one has
   * run (the copy aside stops etcd, then the re-creations have work) says so here, so the plan shows what the
   * apply will do. Never set for `apply` or `verify`, which read the world as it is.
   */
  willChange?: ReadonlySet<string>
  /** Given to `check` only, in a plan: the steps in willChange have not run yet (in an apply they have). */
  planning?: boolean
}

export interface Step<F> {
  /** Stable id used in journals and crash-resume tests: 'force-new-cluster'. */
  id: string
  /** Imperative and specific: "Re-create etcd on master3 with --force-new-cluster". */
  title: string
  host?: string
  destructive?: boolean
  /** Read-only. Returns what would change; [] when there is nothing to do (see StepContext.willChange). */
  check(ctx: StepContext<F>): Promise<Change[]>
  apply(ctx: StepContext<F>, changes: Change[]): Promise<void>
  /** Reads the world again and proves the step holds; throws a DrError when it does not. Returns evidence. */
  verify(ctx: StepContext<F>): Promise<string | void>
}

export interface Runbook<F> {
  name: string
  title: string
  /** Read-only: reach the hosts, gather facts, refuse (DrError, exit 'refused') when the runbook must not run. */
  assess(ctx: Omit<StepContext<F>, 'facts'>): Promise<F>
  /** Lines that explain the plan: the survivor and why, the method and what it means. */
  describe(facts: F, options: Record<string, unknown>): string[]
  steps(facts: F, options: Record<string, unknown>): Step<F>[]
  /** Hosts whose on-host lock the run takes (default: the hosts its steps act on); src/runbook/lock.ts. */
  lockHosts?(facts: F): string[]
  /** A final verification of the whole runbook (beyond each step's own); returns report lines. */
  finalVerify?(ctx: StepContext<F>): Promise<string[]>
}

export interface PlannedStep {
  index: number
  id: string
  title: string
  host?: string
  destructive: boolean
  changes: Change[]
}

export interface Plan {
  runbook: string
  title: string
  cluster: string
  description: string[]
  steps: PlannedStep[]
  /** Nothing to do: every step's check returned no change. */
  empty: boolean
}

export type StepOutcome = 'done' | 'nothing-to-do' | 'failed'

export interface StepReport {
  id: string
  title: string
  host?: string
  outcome: StepOutcome
  changes: Change[]
  evidence?: string
  durationMs: number
  error?: unknown
}

export interface RunReport {
  runbook: string
  runId: string
  cluster: string
  startedAt: string
  endedAt: string
  durationMs: number
  status: 'succeeded' | 'failed' | 'nothing-to-do'
  plan: Plan
  steps: StepReport[]
  verification: string[]
  journalPath: string
}
