// Site failover for RKE clusters (seed 003, DESIGN.md §3): the site holding the etcd majority is gone; rebuild
// etcd from the best surviving member of the named site, prune the dead members, point the surviving apiservers
// at live members only, move the dead site's workloads, and prove it. Every step reads the world in `check`, so
// a run killed anywhere converges when started again; whether etcd is already rebuilt is read from the cluster
// (assess.ts), so a run from another state directory does nothing destructive to a finished failover.
//
// Read top to bottom: assess.ts (decision, probe, refusals) → decision-steps.ts (decision, safety snapshot) →
// etcd-rebuild.ts (copy aside, force-new-cluster, drop the flag, remove dead members) or restore-method.ts →
// verification.ts (key count, complete, final verification). The Kubernetes steps are shared: ../steps/kube.ts.
import path from 'node:path'
import type { Runbook, Step } from '../../src/runbook/types.ts'
import { apiserverSteps, nodeSteps, rkeConfigStep } from '../steps/kube.ts'
import { kubeadmConfigStep } from '../steps/kubeadm-config.ts'
import { powerOffSites } from '../steps/power-fence.ts'
import { memberAddSteps } from '../member/add-steps.ts'
import { assess, describe } from './assess.ts'
import { recordDecision, safetySnapshot } from './decision-steps.ts'
import { copyDataAside, dropForceFlag, forceNewCluster, removeDeadMembers } from './etcd-rebuild.ts'
import { liveClientUrls, opt, type FailoverFacts } from './facts.ts'
import { restoreSteps } from './restore-method.ts'
import { countKeys, finalVerify, markComplete } from './verification.ts'

export type { FailoverFacts, FailoverOptions, Method } from './facts.ts'

/** The steps that rebuild etcd; left out when the cluster shows they are done (facts.etcdDone). */
function etcdSteps(f: FailoverFacts): Step<FailoverFacts>[] {
  const s = f.decision.survivor
  const rebuild = f.method === 'force-new-cluster' ? [forceNewCluster(s), dropForceFlag(s)] : restoreSteps(s)
  return [recordDecision, safetySnapshot, copyDataAside, ...rebuild, countKeys, removeDeadMembers]
}

export const failover: Runbook<FailoverFacts> = {
  name: 'failover',
  title: 'site failover',
  assess,
  describe: (f) => describe(f),

  steps(f, options) {
    const o = opt(options)
    // A decision of this failover in the state directory: its records are kept up to date (count, complete).
    const ownRecord = !f.decisionFromCluster
    const steps: Step<FailoverFacts>[] = [
      // No recovery before the lost site is fenced (Pacemaker's rule): powered off through its fence agent, if any.
      ...powerOffSites<FailoverFacts>(f.failedSites),
      ...(f.etcdDone ? (f.resumed ? [countKeys] : []) : etcdSteps(f)),
      ...f.rejoin.flatMap((h) => memberAddSteps<FailoverFacts>(h, { via: [f.decision.survivor] })),
      ...apiserverSteps<FailoverFacts>(f.siteControlplanes, (inv) => liveClientUrls(inv, f)),
      ...nodeSteps<FailoverFacts>(f.deadHosts, !!o.deleteNodes, f.siteControlplanes),
      // kubeadm's record of its control plane (static-pod clusters only; RKE keeps its own in cluster.yml).
      ...(f.kubeadmConfig && f.siteControlplanes[0] ? [kubeadmConfigStep<FailoverFacts>(f.siteControlplanes[0], f.liveHosts)] : []),
      ...(o.rkeConfig ? [rkeConfigStep<FailoverFacts>(path.resolve(o.rkeConfig), f.deadHosts)] : []),
      ...(ownRecord ? [markComplete] : []),
    ]
    return steps
  },

  finalVerify,
}
