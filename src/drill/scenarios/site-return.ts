// site-return: after a failover, the lost site comes back cut off from the survivor. Without the fence its old
// members still hold a majority of the old membership and form a second quorum (split brain); with the fence
// there is one quorum. Then the partition heals and `dr failback` brings the site home.
import type { Scenario } from '../types.ts'
import { lostAndSurvivor } from './sites.ts'

export const siteReturn: Scenario = {
  name: 'site-return',
  summary: 'after a failover the lost site returns cut off: a second quorum forms unfenced, none once fenced; then failback',
  options: ['--site <lost site>', '--survivor <site>'],
  plan(inv, params) {
    const { lost, survivor } = lostAndSurvivor(inv, params)
    return {
      scenario: 'site-return',
      title: `Site ${lost} returns cut off from site ${survivor}: fence, then failback`,
      description: [
        `Site ${lost} loses power and \`dr failover --site ${survivor}\` recovers, as in site-loss.`,
        `Site ${lost} then comes back cut off from site ${survivor}: unfenced, its old members elect a leader of their own — two clusters (shown by \`dr status\`).`,
        `\`dr fence --site ${lost}\` ends it: one quorum. The partition heals and \`dr failback --site ${lost}\` brings the site home.`,
        'Pass: split brain seen without the fence, one quorum with it, every acknowledged write kept, every site serving again.',
      ],
      servingSites: [survivor, lost],
      // The failover evicted site ${lost}'s sample pods on purpose: site ${survivor}'s must still be there.
      workloadSites: [survivor],
      lossBudget: 'none',
      method: [
        { id: 'lead-from-survivor', title: `Hand etcd's leadership to site ${survivor}`, role: 'prepare', action: { kind: 'lead-from', site: survivor } },
        { id: 'power-off', title: `Power off site ${lost}`, role: 'fault', action: { kind: 'stop-site', site: lost } },
        { id: 'see-quorum-lost', title: 'See etcd lose quorum (`dr status`)', role: 'detect', action: { kind: 'expect-status', expect: 'quorum-lost', timeoutMs: 60_000 } },
        { id: 'failover', title: `Fail over to site ${survivor}`, role: 'recovery', action: { kind: 'dr', args: ['failover', '--site', survivor, '--yes', '--json'] } },
        { id: 'cut-off', title: `Cut site ${lost} off from site ${survivor}`, role: 'fault', action: { kind: 'partition', sites: [lost, survivor] } },
        { id: 'power-on-cut-off', title: `Power on site ${lost}, cut off`, role: 'fault', action: { kind: 'start-site', site: lost } },
        { id: 'see-split-brain', title: 'See a second quorum form without the fence (`dr status`)', role: 'observe', action: { kind: 'expect-status', expect: 'split-brain', timeoutMs: 90_000 } },
        { id: 'fence', title: `Fence site ${lost}`, role: 'recovery', action: { kind: 'dr', args: ['fence', '--site', lost, '--yes', '--json'] } },
        { id: 'see-one-quorum', title: 'See one quorum with the fence (`dr status`)', role: 'observe', action: { kind: 'expect-status', expect: 'one-quorum', timeoutMs: 60_000 } },
        { id: 'heal', title: `Reconnect site ${lost}`, role: 'recovery', action: { kind: 'heal' } },
        { id: 'failback', title: `Bring site ${lost} home`, role: 'recovery', action: { kind: 'dr', args: ['failback', '--site', lost, '--yes', '--json'] } },
      ],
      rollbacks: [
        { id: 'heal-always', title: 'Remove any partition left', role: 'rollback', action: { kind: 'heal' } },
        { id: 'power-on', title: `Power on site ${lost}`, role: 'rollback', action: { kind: 'start-site', site: lost } },
      ],
    }
  },
}
