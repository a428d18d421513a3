// `dr inventory check | show | import-rke`: validate an inventory (every problem at once), print it normalised,
// or build one from an RKE cluster.yml.
import fs from 'node:fs'
import path from 'node:path'
import type { Command } from 'commander'
import { stringify } from 'yaml'
import { DrError } from '../../core/error.ts'
import { action } from '../run.ts'
import type { CliContext } from '../context.ts'

/** The file to check: a positional argument, else -i / $DR_INVENTORY / the lab inventory. */
function fileOf(ctx: CliContext, args: string[]): string {
  return args[0] ? path.resolve(args[0]) : ctx.inventoryPath()
}

export function registerInventory(program: Command) {
  const inv = program.command('inventory').description('check, show, or import an inventory (the cluster’s sites, hosts and how to reach them)')

  inv
    .command('check')
    .description('validate an inventory: every error at once with file:line:column, warnings, and the "if this site is lost" table')
    .argument('[file]', 'inventory file (default: -i, $DR_INVENTORY, inventories/lab.yaml)')
    .addHelpText('after', '\nExamples:\n  dr inventory check -i inventories/examples/rke-two-sites.yaml\n  dr inventory check inventories/lab.yaml --json')
    .action(
      action(async (ctx, args) => {
        const { readInventoryFile, invalidInventoryError } = await import('../../inventory/load.ts')
        const { summarise, renderSummary } = await import('../../inventory/summary.ts')
        const report = await readInventoryFile(fileOf(ctx, args))
        if (!report.inventory) throw invalidInventoryError(report)
        const s = summarise(report, report.inventory)
        if (ctx.opts.json) ctx.out.data(s)
        else ctx.out.line(renderSummary(s))
      }),
    )

  inv
    .command('show')
    .description('print the normalised inventory: defaults filled in, per-host ssh settings merged, paths absolute')
    .argument('[file]', 'inventory file (default: -i, $DR_INVENTORY, inventories/lab.yaml)')
    .addHelpText('after', '\nExample:\n  dr inventory show -i inventories/examples/rke-two-sites.yaml')
    .action(
      action(async (ctx, args) => {
        const { loadInventory } = await import('../../inventory/load.ts')
        const inventory = await loadInventory(fileOf(ctx, args), { warn: (m) => ctx.out.warn(m) })
        if (ctx.opts.json) ctx.out.data(inventory)
        else ctx.out.line(stringify(inventory, { lineWidth: 140 }).trimEnd())
      }),
    )

  inv
    .command('import-rke')
    .description('build an inventory from an RKE cluster.yml (nodes, roles, ssh user/port/key, bastion); you name the sites')
    .argument('<cluster.yml>', 'the cluster.yml that `rke up` used')
    .option('--site <NAME=h1,h2>', 'hosts in a site, by hostname_override or address (repeat per site)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--cluster <name>', 'cluster name (default: cluster_name from cluster.yml, else "rke")')
    .option('-o, --output <file>', 'write the inventory here (default: print it)')
    .option('--force', 'overwrite the output file')
    .addHelpText('after', '\nExample:\n  dr inventory import-rke inventories/examples/rke-cluster.yml --site A=master1,master2,node1 --site B=master3,node2 -o my.yaml')
    .action(
      action(async (ctx, args, opts) => {
        const { importRke, parseSiteOptions } = await import('../../inventory/import-rke.ts')
        const { checkInventoryText, invalidInventoryError } = await import('../../inventory/load.ts')
        const { formatProblem } = await import('../../inventory/problems.ts')
        const source = path.resolve(args[0])
        let text: string
        try {
          text = fs.readFileSync(source, 'utf8')
        } catch (e) {
          throw new DrError({ code: 'import-rke.unreadable', message: `cannot read ${source}: ${(e as Error).message}`, hint: 'pass the path of the cluster.yml `rke up` used', exit: 'usage' })
        }
        const out = opts.output ? path.resolve(opts.output) : undefined
        const outDir = out ? path.dirname(out) : process.cwd()
        const yaml = importRke(text, {
          sites: parseSiteOptions(opts.site ?? []),
          cluster: opts.cluster,
          sourceDir: path.dirname(source),
          sourceName: path.basename(source),
          outDir,
          kubeconfigExists: fs.existsSync(path.join(path.dirname(source), `kube_config_${path.basename(source)}`)),
        })
        // What we write must pass our own check.
        const report = checkInventoryText(yaml, out ?? path.join(outDir, 'imported.yaml'))
        if (!report.inventory) throw invalidInventoryError(report)
        for (const w of report.warnings) ctx.out.warn(formatProblem(out ? path.basename(out) : 'imported', w, { severity: false }))
        if (out && ctx.opts.plan) {
          if (ctx.opts.json) ctx.out.data({ plan: true, wouldWrite: out, exists: fs.existsSync(out), inventory: yaml })
          else process.stdout.write(`# plan only: would write ${out}${fs.existsSync(out) ? ' (it exists)' : ''}; nothing written\n${yaml}`)
        } else if (out) {
          if (fs.existsSync(out) && !opts.force)
            throw new DrError({ code: 'import-rke.exists', message: `${out} exists`, hint: 'choose another -o FILE, or add --force to overwrite it', exit: 'usage' })
          fs.writeFileSync(out, yaml)
          if (ctx.opts.json) ctx.out.data({ written: out, cluster: report.inventory.cluster, hosts: Object.keys(report.inventory.hosts) })
          else ctx.out.line(`wrote ${out} (${Object.keys(report.inventory.hosts).length} hosts); next: dr inventory check -i ${path.relative(process.cwd(), out) || out}`)
        } else if (ctx.opts.json) ctx.out.data({ inventory: yaml })
        else process.stdout.write(yaml)
      }),
    )
}
