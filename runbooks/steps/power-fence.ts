// Out-of-band fencing steps (STONITH): power hosts off through their inventory fence agent and confirm "off" with
// its status command. Pacemaker's rule — no recovery before the lost node is fenced — as steps a runbook puts
// first: `dr failover` powers the lost site off before it rebuilds, `dr fence` powers off what SSH cannot reach.
import { DrError } from '../../src/core/error.ts'
import { fenceCommand, hasFenceAgent, powerStatus, setPower } from '../../src/cluster/power.ts'
import { hostsInSite, type Host, type Inventory } from '../../src/inventory/types.ts'
import type { Change, Step, StepContext } from '../../src/runbook/types.ts'

type Fenceable = Host & { fence: NonNullable<Host['fence']> }

/** The hosts a step powers off: those with a fence agent. */
const agents = (hosts: Host[]) => hosts.filter(hasFenceAgent) as Fenceable[]

/** The hosts whose agent does not report "off", all asked at once (each agent call can take a second or more). */
async function stillOn(hosts: Fenceable[]): Promise<Fenceable[]> {
  const states = await Promise.all(hosts.map((h) => powerStatus(h)))
  return hosts.filter((_, i) => states[i] !== 'off')
}

function powerOffStep<F>(id: string, title: string, pick: (inv: Inventory) => Host[], host?: string): Step<F> {
  return {
    id,
    title,
    host,
    destructive: true,
    async check(ctx: StepContext<F>): Promise<Change[]> {
      const on = await stillOn(agents(pick(ctx.inv)))
      return on.map((h) => ({ host: h.name, destructive: true, summary: `power ${h.name} off through its fence agent and confirm it is off`, command: fenceCommand(h, 'off') }))
    },
    async apply(ctx) {
      const on = await stillOn(agents(pick(ctx.inv)))
      // All at once: a site's hosts must be off together, before any of them can reach the others.
      await Promise.all(on.map((h) => setPower(h, 'off')))
    },
    async verify(ctx) {
      const hosts = agents(pick(ctx.inv))
      const on = await stillOn(hosts)
      if (on.length) {
        throw new DrError({
          code: 'fence.power-unconfirmed',
          message: `the fence agent does not confirm power off for ${on.map((h) => h.name).join(', ')}`,
          host: on[0].name,
          exit: 'unverified',
          hint: `check their power controllers by hand (${fenceCommand(on[0], 'status')})`,
        })
      }
      return `power off confirmed by the fence agent: ${hosts.map((h) => h.name).join(', ')}`
    },
  }
}

/** Power off one host through its fence agent (for a host SSH cannot reach). */
export function powerOffHost<F>(host: string): Step<F> {
  return powerOffStep<F>(`power-off-${host}`, `Power ${host} off through its fence agent and confirm it is off`, (inv) => [inv.hosts[host]], host)
}

/**
 * Power off every host of the lost sites that has a fence agent, and confirm each is off (a failover's first step:
 * `steps.unshift(...powerOffSites<FailoverFacts>(f.failedSites))`). No step when the sites have no fence agent.
 */
export function powerOffSites<F>(sites: string[], inv?: Inventory): Step<F>[] {
  if (inv && agents(sites.flatMap((s) => hostsInSite(inv, s))).length === 0) return []
  return [
    powerOffStep<F>(
      `power-off-site-${sites.join('-')}`,
      `Fence site ${sites.join(', ')} out of band: power its hosts off through their fence agents and confirm they are off`,
      (i) => sites.flatMap((s) => hostsInSite(i, s)),
    ),
  ]
}

/** One site, for a runbook that names it (`powerOffSite(site)`). */
export const powerOffSite = <F>(site: string, inv?: Inventory): Step<F>[] => powerOffSites<F>([site], inv)
