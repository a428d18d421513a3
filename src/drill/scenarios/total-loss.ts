// total-loss: every member's data is gone; the cluster is rebuilt from a backup with `dr backup restore`.
// A backup taken at the start of the drill is the recovery point: writes acknowledged after it may be lost.
import type { Scenario } from '../types.ts'
import { etcdHosts } from './sites.ts'

export const totalLoss: Scenario = {
  name: 'total-loss',
  summary: "wipe every etcd member's data; recover with `dr backup restore` from a backup taken first",
  options: ['--store <name>'],
  plan(inv, params) {
    const hosts = etcdHosts(inv)
    const store = params.store ? ['--store', params.store] : []
    return {
      scenario: 'total-loss',
      title: `Every etcd member wiped, restore from backup`,
      description: [
        `A backup is taken (\`dr backup now\`); then etcd is stopped on ${hosts.join(', ')} and its data moved aside, while a writer writes numbered keys.`,
        'Recovery: `dr backup restore` rebuilds every member from that backup (a new cluster ID).',
        'The backup is the recovery point: writes acknowledged after it started are expected to be lost and are counted apart; any earlier one missing fails the drill.',
        'Put back: nothing when the restore worked (the cluster has its members again); otherwise the moved-aside data is put back.',
      ],
      servingSites: Object.keys(inv.sites),
      lossBudget: 'after-backup',
      method: [
        { id: 'backup', title: 'Take a backup (the recovery point)', role: 'prepare', action: { kind: 'dr', args: ['backup', 'now', ...store, '--json'] }, capture: { backup: 'id' }, recoveryPoint: true },
        { id: 'wipe', title: "Wipe every etcd member's data", role: 'fault', action: { kind: 'wipe-etcd', hosts } },
        { id: 'see-quorum-lost', title: 'See etcd lose quorum (`dr status`)', role: 'detect', action: { kind: 'expect-status', expect: 'quorum-lost', timeoutMs: 60_000 } },
        { id: 'restore', title: 'Restore every member from the backup', role: 'recovery', action: { kind: 'dr', args: ['backup', 'restore', '${backup}', ...store, '--yes', '--json'] } },
      ],
      rollbacks: [{ id: 'unwipe', title: 'Put the moved-aside data back where etcd is down', role: 'rollback', action: { kind: 'unwipe-etcd', hosts }, onlyIfRecoveryFailed: true }],
    }
  },
}
