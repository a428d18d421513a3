// A drill is an experiment in Chaos Toolkit's shape: a steady-state hypothesis checked before and after, a
// method (the fault, then the same dr commands an operator runs to recover), rollbacks that put the cluster
// back, and a journal started before anything happens that becomes the report. Scenarios are data: each one
// turns an inventory into a list of activities (src/drill/scenarios/).
import type { Inventory } from '../inventory/types.ts'

/** What an activity does. `dr` runs bin/dr.js as a child process, exactly as an operator would. */
export type Action =
  | { kind: 'dr'; args: string[] }
  | { kind: 'stop-site'; site: string }
  | { kind: 'start-site'; site: string }
  | { kind: 'kill-host'; host: string }
  | { kind: 'start-host'; host: string }
  | { kind: 'partition'; sites: [string, string] }
  | { kind: 'heal' }
  | { kind: 'wipe-etcd'; hosts: string[] }
  /** Undo wipe-etcd where etcd does not run: the moved-aside member dir back, etcd started. */
  | { kind: 'unwipe-etcd'; hosts: string[] }
  | { kind: 'lead-from'; site: string }
  /** Wait until `dr status` shows the expected state (quorum lost, split brain, one quorum). */
  | { kind: 'expect-status'; expect: StatusExpectation; timeoutMs: number }
  | { kind: 'sleep'; ms: number }

/** 'one-quorum': one cluster, healthy (dr status exits 0); 'quorum-kept': one cluster with quorum, members may be down. */
export type StatusExpectation = 'quorum-lost' | 'split-brain' | 'one-quorum' | 'quorum-kept'

/** Where an activity sits on the timeline. */
export type Role = 'prepare' | 'fault' | 'detect' | 'recovery' | 'observe' | 'rollback'

export interface ActivitySpec {
  id: string
  /** Imperative and specific: "Power off site A", "Fail over to site B". */
  title: string
  role: Role
  action: Action
  /** A failed activity of a drill's method fails the drill unless it is marked tolerated (rollbacks go on). */
  tolerateFailure?: boolean
  /** Values taken from the activity's JSON output, for `\${name}` in later activities' arguments: name → field. */
  capture?: Record<string, string>
  /** This activity's start is the recovery point: writes acknowledged after it may be lost (a backup). */
  recoveryPoint?: boolean
  /** Rollbacks only: run only when the recovery did not bring the steady state back. */
  onlyIfRecoveryFailed?: boolean
  /**
   * Run again this many times when it fails (a dr runbook resumes where it stopped). For rollbacks whose runbook
   * can meet a race of the cluster's own, so a drill does not leave the lab half put back for it.
   */
  retries?: number
  /** Rollbacks only: skip when the world already says there is nothing to put back. */
  skipIf?: SkipCondition
}

/** 'site-in-cluster': every etcd host of the site is still a member (no failover removed them). */
export type SkipCondition = { kind: 'site-in-cluster'; site: string }

export interface ScenarioParams {
  [k: string]: string | undefined
}

export interface ScenarioPlan {
  scenario: string
  title: string
  /** Plain-English lines: what breaks, how it is recovered, what "pass" means. */
  description: string[]
  /** Sites whose apiservers and workload the steady state after recovery is checked on. */
  servingSites: string[]
  /** Hosts the scenario loses for good: the probes after recovery leave them out. */
  lostHosts?: string[]
  /**
   * Sites whose sample pods must still be there after the recovery (default: servingSites). A failover evicts
   * the lost site's pods on purpose, so a site that comes home later serves again without its old pods.
   */
  workloadSites?: string[]
  method: ActivitySpec[]
  rollbacks: ActivitySpec[]
  /** Acknowledged writes that may be lost without failing the drill (a backup's recovery point). */
  lossBudget: LossBudget
}

/** 'none': every acknowledged write must survive; 'after-backup': writes acknowledged after the backup may go. */
export type LossBudget = 'none' | 'after-backup'

export interface Scenario {
  name: string
  summary: string
  /** Options the scenario takes (--site, --host, --with), for help and validation. */
  options: string[]
  /**
   * Pure: the plan for this inventory and what was read from the cluster; throws a DrError (usage) when the
   * inventory cannot take the scenario.
   */
  plan(inv: Inventory, params: ScenarioParams, live?: LiveFacts): ScenarioPlan
}

/** What a scenario's plan may need from the live cluster (read once, before the drill). */
export interface LiveFacts {
  /** Inventory hosts whose etcd is listed as a member now (by peer address). */
  members?: string[]
}

/** One record per activity, Chaos Toolkit's run record: what ran, when, how it ended, and what it printed. */
export interface ActivityRecord {
  id: string
  title: string
  role: Role
  action: Action
  command?: string
  status: 'succeeded' | 'failed' | 'skipped'
  startedAt: string
  endedAt: string
  /** Milliseconds from the drill's start. */
  start: number
  durationMs: number
  exitCode?: number | null
  output?: string
  error?: string
  /** Steps of a dr runbook child (from its --json report), with timings relative to the drill's start. */
  steps?: { id: string; title: string; outcome: string; start: number; durationMs: number }[]
}

export interface ProbeResult {
  name: string
  ok: boolean
  detail: string
}

export interface SteadyState {
  ok: boolean
  at: string
  durationMs: number
  probes: ProbeResult[]
}

/** The writer's figures, derived from its samples (src/drill/measure.ts). */
export interface WriteFigures {
  attempted: number
  acknowledged: number
  lost: number
  /** Acknowledged and missing, but within the loss budget (after the backup). */
  lostWithinBudget: number
  lostKeys: string[]
  /** Per second since the drill's start: acknowledged and failed writes. */
  rate: { t: number; ok: number; failed: number }[]
  firstFailureAfterFault?: number
  firstAckAfterRecovery?: number
}

export interface TimelineEvent {
  /** Milliseconds from the drill's start. */
  t: number
  kind: 'start' | 'fault' | 'detection' | 'step' | 'recovered' | 'verified' | 'rollback' | 'end'
  label: string
  durationMs?: number
}

export interface DrillReport {
  scenario: string
  title: string
  id: string
  cluster: string
  inventory: string
  lab: boolean
  verdict: 'pass' | 'fail'
  reasons: string[]
  /** Not part of the verdict, but worth a look: the rollbacks did not put everything back. */
  warnings: string[]
  /** Set when a test sabotaged the recovery on purpose (DR_DRILL_SABOTAGE). */
  sabotage?: string
  startedAt: string
  endedAt: string
  durationMs: number
  /** The outage clients saw: from the first write that failed after the fault to the next acknowledged one. */
  recoverySeconds: number | null
  /** From the outage's start to the end of the last recovery command (its verification held). */
  verifiedSeconds: number | null
  acknowledgedWrites: number
  lostWrites: number
  writes: WriteFigures
  lossBudget: LossBudget
  description: string[]
  steadyStateBefore?: SteadyState
  steadyStateAfter?: SteadyState
  /** The cluster as it was found, and whether the rollbacks put it back. */
  putBack?: SteadyState
  timeline: TimelineEvent[]
  method: ActivityRecord[]
  rollbacks: ActivityRecord[]
  platform: { dr: string; node: string; hostname: string; user: string }
  status: 'running' | 'completed' | 'aborted'
  error?: string
}
