// site-loss: the site holding the etcd majority loses power; the other site takes over with `dr failover`.
// Put back: power the site on, fence it, and bring it home with `dr failback`.
import type { Scenario } from '../types.ts'
import { lostAndSurvivor } from './sites.ts'

export const siteLoss: Scenario = {
  name: 'site-loss',
  summary: 'power off the site holding the etcd majority; recover with `dr failover` to the other site',
  options: ['--site <lost site>', '--survivor <site>'],
  plan(inv, params) {
    const { lost, survivor } = lostAndSurvivor(inv, params)
    return {
      scenario: 'site-loss',
      title: `Site ${lost} lost, failover to site ${survivor}`,
      description: [
        `Site ${lost} loses power (no clean shutdown) while a writer writes numbered keys.`,
        `Recovery: \`dr failover --site ${survivor}\` rebuilds etcd from the surviving member with --force-new-cluster.`,
        `Leadership is handed to site ${survivor} first, so the survivor holds every acknowledged write: a pass loses none.`,
        `Put back: site ${lost} powered on, fenced (\`dr fence\`), then brought home (\`dr failback\`).`,
      ],
      servingSites: [survivor],
      lossBudget: 'none',
      method: [
        { id: 'lead-from-survivor', title: `Hand etcd's leadership to site ${survivor}`, role: 'prepare', action: { kind: 'lead-from', site: survivor } },
        { id: 'power-off', title: `Power off site ${lost}`, role: 'fault', action: { kind: 'stop-site', site: lost } },
        { id: 'see-quorum-lost', title: 'See etcd lose quorum (`dr status`)', role: 'detect', action: { kind: 'expect-status', expect: 'quorum-lost', timeoutMs: 60_000 } },
        { id: 'failover', title: `Fail over to site ${survivor}`, role: 'recovery', action: { kind: 'dr', args: ['failover', '--site', survivor, '--yes', '--json'] } },
      ],
      rollbacks: [
        { id: 'power-on', title: `Power on site ${lost}`, role: 'rollback', action: { kind: 'start-site', site: lost } },
        { id: 'fence', title: `Fence site ${lost}`, role: 'rollback', action: { kind: 'dr', args: ['fence', '--site', lost, '--yes', '--json'] }, skipIf: { kind: 'site-in-cluster', site: lost } },
        { id: 'failback', title: `Bring site ${lost} home`, role: 'rollback', action: { kind: 'dr', args: ['failback', '--site', lost, '--yes', '--json'] }, skipIf: { kind: 'site-in-cluster', site: lost } },
      ],
    }
  },
}
