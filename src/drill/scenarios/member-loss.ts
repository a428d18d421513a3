// member-loss: one etcd host dies for good; `dr member replace OLD --with NEW` puts a spare host in its place.
// Put back: the old host returns and takes its place again the same way.
import { DrError } from '../../core/error.ts'
import type { Inventory } from '../../inventory/types.ts'
import type { Scenario } from '../types.ts'
import { etcdHosts } from './sites.ts'

const usage = (message: string, hint?: string) => new DrError({ code: 'drill.bad-scenario', message, hint, exit: 'usage' })

/** The host that dies (--host, else the last etcd host of the site with the most) and its replacement (--with, else a non-etcd host of the same site). */
export function oldAndNew(inv: Inventory, params: { host?: string; with?: string }): { old: string; replacement: string } {
  const etcd = etcdHosts(inv)
  if (params.host && !inv.hosts[params.host]) throw usage(`host "${params.host}" is not in the inventory`)
  if (params.host && !etcd.includes(params.host)) throw usage(`host "${params.host}" is not an etcd member`, `etcd hosts: ${etcd.join(', ')}`)
  const bySite = (s: string) => etcd.filter((h) => inv.hosts[h].site === s)
  const biggest = Object.keys(inv.sites).sort((a, b) => bySite(b).length - bySite(a).length)[0]
  const old = params.host ?? bySite(biggest).at(-1)
  if (!old) throw usage('the inventory has no etcd host')
  if (params.with && !inv.hosts[params.with]) throw usage(`host "${params.with}" is not in the inventory`)
  if (params.with && etcd.includes(params.with)) throw usage(`host "${params.with}" is already an etcd member: the replacement must be a spare host`)
  const site = inv.hosts[old].site
  const spare = (s?: string) => Object.values(inv.hosts).find((h) => !h.roles.includes('etcd') && (s === undefined || h.site === s))?.name
  const replacement = params.with ?? spare(site) ?? spare()
  if (!replacement) throw usage('no spare host (one without the etcd role) to replace it with', 'name one with --with HOST')
  if (replacement === old) throw usage(`the host that dies and its replacement are both ${old}`)
  return { old, replacement }
}

export const memberLoss: Scenario = {
  name: 'member-loss',
  summary: 'one etcd host dies for good; recover with `dr member replace OLD --with NEW`',
  options: ['--host <etcd host>', '--with <spare host>'],
  plan(inv, params) {
    const { old, replacement } = oldAndNew(inv, params)
    return {
      scenario: 'member-loss',
      title: `${old} dies, replaced by ${replacement}`,
      description: [
        `Host ${old} dies for good (power off, no return) while a writer writes numbered keys; etcd keeps its quorum.`,
        `Recovery: \`dr member replace ${old} --with ${replacement}\`: the dead member removed, ${replacement} added as a learner, caught up, promoted; --etcd-servers fixed.`,
        `Put back: ${old} powered on and swapped back in with \`dr member replace ${replacement} --with ${old}\`.`,
      ],
      servingSites: Object.keys(inv.sites),
      lostHosts: [old],
      lossBudget: 'none',
      method: [
        { id: 'kill-host', title: `Power off ${old} for good`, role: 'fault', action: { kind: 'kill-host', host: old } },
        { id: 'see-quorum-kept', title: 'See etcd keep its quorum (`dr status`)', role: 'detect', action: { kind: 'expect-status', expect: 'one-quorum', timeoutMs: 60_000 }, tolerateFailure: true },
        { id: 'replace', title: `Replace ${old} with ${replacement}`, role: 'recovery', action: { kind: 'dr', args: ['member', 'replace', old, '--with', replacement, '--yes', '--json'] } },
      ],
      rollbacks: [
        { id: 'power-on', title: `Power on ${old}`, role: 'rollback', action: { kind: 'start-host', host: old } },
        { id: 'swap-back', title: `Put ${old} back in place of ${replacement}`, role: 'rollback', action: { kind: 'dr', args: ['member', 'replace', replacement, '--with', old, '--yes', '--json'] } },
      ],
    }
  },
}
