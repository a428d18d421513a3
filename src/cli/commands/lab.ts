// `dr lab …`: the two-site RKE-shaped test lab on the local docker engine (DESIGN.md §4).
import type { Command } from 'commander'
import { formatDuration, table } from '../../core/output.ts'
import { action } from '../run.ts'
import { DEFAULT_LAB, DEFAULT_SITES, parseSites, subnetFor } from '../../lab/topology.ts'

const nameOpt = (c: Command) => c.option('--name <name>', 'lab name', DEFAULT_LAB)

export function registerLab(program: Command) {
  const lab = program.command('lab').description('a real two-site RKE-shaped cluster in docker containers, for tests and drills')

  nameOpt(lab.command('up'))
    .description('create the lab (or do nothing when it is up) and write inventories/<name>.yaml')
    .option('--sites <sites>', 'sites and their etcd+controlplane nodes', DEFAULT_SITES)
    .option('--workers <n>', 'worker nodes per site', '1')
    .option('--subnet <cidr>', 'the lab network (a /24); default 172.30.0.0/24 for the lab named "lab"')
    .action(
      action(async (ctx, _args, opts) => {
        const { labUp } = await import('../../lab/up.ts')
        const workers = Number(opts.workers)
        if (!Number.isInteger(workers) || workers < 0 || workers > 5) {
          const { DrError } = await import('../../core/error.ts')
          throw new DrError({ code: 'lab.bad-option', message: `--workers ${opts.workers} is not a number from 0 to 5`, exit: 'usage' })
        }
        const r = await labUp({ name: opts.name, sites: parseSites(opts.sites), workers, subnet: opts.subnet ?? subnetFor(opts.name) }, ctx.out)
        if (ctx.opts.json) return ctx.out.data({ name: r.plan.name, unchanged: r.unchanged, seconds: r.seconds, inventory: r.files.inventory, nodes: r.plan.nodes })
        ctx.out.line(`lab ${r.plan.name} is up${r.unchanged ? ' (unchanged)' : ''} in ${formatDuration(Math.round(r.seconds * 1000))}; inventory: ${r.files.inventory}`)
        ctx.out.line(table(['NODE', 'SITE', 'ROLES', 'ADDRESS'], r.plan.nodes.map((n) => [n.name, n.site, n.roles.join(','), n.ip])))
      }),
    )

  nameOpt(lab.command('down'))
    .description('remove every docker object labelled dr.lab=<name> and the lab inventory')
    .action(
      action(async (ctx, _args, opts) => {
        const { labDown } = await import('../../lab/down.ts')
        const r = await labDown(opts.name, ctx.out)
        if (ctx.opts.json) return ctx.out.data(r)
        ctx.out.line(`lab ${opts.name} removed: ${r.containers} containers, ${r.volumes} volumes, ${r.networks} networks`)
      }),
    )
}
