// member-loss: one etcd host dies for good; `dr member replace OLD --with NEW` puts a spare host in its place.
// The spare is what an operator keeps for this: a host of the inventory with the etcd role whose etcd is not a
// member (`dr member replace` adds only etcd hosts). Put back: the old host returns and takes its place again
// the same way, so the spare is a spare again.
import { DrError } from '../../core/error.ts'
import type { Inventory } from '../../inventory/types.ts'
import type { LiveFacts, Scenario } from '../types.ts'
import { etcdHosts } from './sites.ts'

const usage = (message: string, hint?: string) => new DrError({ code: 'drill.bad-scenario', message, hint, exit: 'usage' })

/**
 * The host that dies (--host, else the last member of the site with the most members) and its replacement
 * (--with, else a spare of the same site, else any spare). A spare is an etcd host that is not a member now
 * (live.members); without live facts every etcd host counts as a member (pure).
 */
export function oldAndNew(inv: Inventory, params: { host?: string; with?: string }, live?: LiveFacts): { old: string; replacement: string } {
  const etcd = etcdHosts(inv)
  const members = live?.members ? etcd.filter((h) => live.members!.includes(h)) : etcd
  const spares = etcd.filter((h) => !members.includes(h))
  const spareHint = 'a spare is a host with the etcd role in the inventory whose etcd is not a member (`dr member remove HOST` makes one)'
  if (params.host && !inv.hosts[params.host]) throw usage(`host "${params.host}" is not in the inventory`)
  if (params.host && !members.includes(params.host)) throw usage(`host "${params.host}" is not an etcd member`, `members: ${members.join(', ')}`)
  const bySite = (s: string) => members.filter((h) => inv.hosts[h].site === s)
  const biggest = Object.keys(inv.sites).sort((a, b) => bySite(b).length - bySite(a).length)[0]
  const old = params.host ?? bySite(biggest).at(-1)
  if (!old) throw usage('the cluster has no etcd member')
  if (params.with && !inv.hosts[params.with]) throw usage(`host "${params.with}" is not in the inventory`)
  if (params.with && !etcd.includes(params.with)) throw usage(`host "${params.with}" does not have the etcd role: \`dr member replace\` adds etcd hosts only`, spareHint)
  if (params.with && members.includes(params.with)) throw usage(`host "${params.with}" is already an etcd member: the replacement must be a spare`, spareHint)
  const site = inv.hosts[old].site
  const replacement = params.with ?? spares.find((h) => inv.hosts[h].site === site) ?? spares[0]
  if (!replacement) throw usage(`no spare host to replace ${old} with (members: ${members.join(', ')})`, spareHint)
  if (replacement === old) throw usage(`the host that dies and its replacement are both ${old}`)
  return { old, replacement }
}

export const memberLoss: Scenario = {
  name: 'member-loss',
  summary: 'one etcd host dies for good; recover with `dr member replace OLD --with NEW` (a spare etcd host)',
  options: ['--host <etcd host>', '--with <spare host>'],
  plan(inv, params, live) {
    const { old, replacement } = oldAndNew(inv, params, live)
    return {
      scenario: 'member-loss',
      title: `${old} dies, replaced by ${replacement}`,
      description: [
        `Host ${old} dies for good (power off, no return) while a writer writes numbered keys; etcd keeps its quorum.`,
        `Recovery: \`dr member replace ${old} --with ${replacement}\`: the dead member removed, ${replacement} added as a learner, caught up, promoted; --etcd-servers fixed; the Node ${old} deleted.`,
        'Pass: quorum kept throughout, every acknowledged write kept, the cluster whole again with the spare in place.',
        `Put back: ${old} powered on and swapped back in with \`dr member replace ${replacement} --with ${old}\`.`,
      ],
      servingSites: Object.keys(inv.sites),
      lostHosts: [old],
      lossBudget: 'none',
      method: [
        { id: 'kill-host', title: `Power off ${old} for good`, role: 'fault', action: { kind: 'kill-host', host: old } },
        { id: 'see-quorum-kept', title: 'See etcd keep its quorum (`dr status`)', role: 'detect', action: { kind: 'expect-status', expect: 'quorum-kept', timeoutMs: 60_000 } },
        { id: 'replace', title: `Replace ${old} with ${replacement}`, role: 'recovery', action: { kind: 'dr', args: ['member', 'replace', old, '--with', replacement, '--yes', '--json'] } },
      ],
      rollbacks: [
        { id: 'power-on', title: `Power on ${old}`, role: 'rollback', action: { kind: 'start-host', host: old } },
        // Retried once: stopping the spare's etcd can meet it restarting (removed, it exits; its restart policy
        // starts it again) and `docker update` then fails; the runbook resumes past what it had done.
        { id: 'swap-back', title: `Put ${old} back in place of ${replacement}`, role: 'rollback', action: { kind: 'dr', args: ['member', 'replace', replacement, '--with', old, '--yes', '--json'] }, retries: 2 },
      ],
    }
  },
}
