// `dr doctor --fix`: the diagnoses become one runbook, so every fix goes through the engine (plan → confirm →
// journal → verify). The final verification diagnoses the cluster again from scratch: the fix holds only when
// no signature is left and every etcd member answers a quorum read.
import { DrError } from '../../src/core/error.ts'
import { Connections } from '../../src/transport/connect.ts'
import type { Runbook, Step, StepContext } from '../../src/runbook/types.ts'
import type { TransportSource } from '../../src/etcd/client.ts'
import { hostsWithRole, type Inventory } from '../../src/inventory/types.ts'
import { collectEvidence } from '../../src/doctor/collect.ts'
import { detectAll, type DoctorEvidence } from '../../src/doctor/detect.ts'
import type { Diagnosis } from '../../src/doctor/types.ts'
import { apiserverSteps } from '../steps/kube.ts'
import { pinAddressSteps } from './pin-addresses.ts'
import { addressChangeSteps, movesOf } from './address-change.ts'
import { nospaceSteps } from './nospace.ts'
import { renewCertSteps } from './renew-cert.ts'
import { staleContainerSteps } from './stale-containers.ts'

export interface DoctorFacts {
  diagnoses: Diagnosis[]
  evidence: DoctorEvidence
  etcdHosts: string[]
}

function connections(conns: TransportSource, inv: Inventory): Connections {
  if (conns instanceof Connections) return conns
  throw new DrError({ code: 'bug', message: 'doctor needs a Connections fan-out (this is a bug in dr)', exit: 'bug' })
}

export async function diagnose(inv: Inventory, conns: TransportSource, out?: StepContext<unknown>['out']): Promise<DoctorFacts> {
  const evidence = await collectEvidence(inv, connections(conns, inv), out)
  return { diagnoses: detectAll(inv, evidence), evidence, etcdHosts: hostsWithRole(inv, 'etcd').map((h) => h.name) }
}

export const doctor: Runbook<DoctorFacts> = {
  name: 'doctor',
  title: 'fix the known failure signatures',
  async assess(ctx) {
    return diagnose(ctx.inv, ctx.conns, ctx.out)
  },
  describe(facts) {
    const lines = facts.diagnoses.map((d) => `${d.fixable ? 'fix' : 'cannot fix here'}: ${d.title}${d.fixable ? '' : ` — ${d.fix}`}`)
    return lines.length ? lines : ['no known failure signature found']
  },
  steps(facts, options) {
    const members = facts.evidence.run.cluster.etcd?.memberList ?? []
    // A moved host's fix points every apiserver at the members' new URLs itself.
    const etcdServerHosts = movesOf(facts.diagnoses).length ? [] : facts.diagnoses.filter((d) => d.id === 'etcd-servers').map((d) => d.subject)
    const steps: Step<DoctorFacts>[] = [
      ...pinAddressSteps(facts),
      ...addressChangeSteps(facts),
      ...nospaceSteps(facts, facts.etcdHosts),
      ...(etcdServerHosts.length ? apiserverSteps<DoctorFacts>(etcdServerHosts, () => members.flatMap((m) => m.clientURLs)) : []),
      ...renewCertSteps(facts, options.caKey as string | undefined),
      ...staleContainerSteps(facts),
    ]
    return steps
  },
  async finalVerify(ctx) {
    const again = await diagnose(ctx.inv, ctx.conns)
    const left = again.diagnoses.filter((d) => d.fixable)
    if (left.length) {
      throw new DrError({
        code: 'doctor.not-fixed',
        message: `still found after the fix: ${left.map((d) => d.title).join('; ')}`,
        exit: 'unverified',
        hint: 'run dr doctor again to see the evidence; dr check for everything else',
      })
    }
    const e = again.evidence.run.cluster.etcd
    const lines = [`diagnosed again: ${again.diagnoses.length ? again.diagnoses.map((d) => d.title).join('; ') : 'no known failure signature'}`]
    if (e) lines.push(`etcd: quorum read through ${e.members.filter((m) => m.quorumRead).map((m) => m.host).join(', ') || 'no member'}`)
    return lines
  },
}
