// `dr lab …`: the two-site RKE-shaped test lab on the local docker engine (DESIGN.md §4).
import type { Command } from 'commander'
import { DrError } from '../../core/error.ts'
import { formatDuration, table } from '../../core/output.ts'
import { action } from '../run.ts'
import { DEFAULT_LAB, DEFAULT_SITES, parseFlavor, parseSites } from '../../lab/topology.ts'

const nameOpt = (c: Command) => c.option('--name <name>', 'lab name', DEFAULT_LAB)

export function registerLab(program: Command) {
  const lab = program.command('lab').description('a real two-site RKE-shaped cluster in docker containers, for tests and drills')

  nameOpt(lab.command('up'))
    .description('create the lab (or do nothing when it is up) and write inventories/<name>.yaml')
    .option('--sites <sites>', 'sites and their etcd+controlplane nodes', DEFAULT_SITES)
    .option('--workers <n>', 'worker nodes per site', '1')
    .option('--subnet <cidr>', 'the lab network (a /24); default 172.30.0.0/24 for "lab", a free 172.30.N.0/24 for others')
    .option('--flavor <flavor>', 'rke (docker containers, as `rke up` makes them), kubeadm (static pods run by a kubelet stand-in) or kind (those static pods on containerd-only nodes reached with docker exec)', 'rke')
    .option('--ssh-user <user>', 'log in as this unprivileged user with passwordless sudo (ssh.sudo: true), not root; e.g. --ssh-user dr')
    .option('--k8s-version <version>', 'the Kubernetes version the stand-in apiserver claims and behaves as (e.g. 1.28.0: the out-of-service taint moves pods from 1.26 on)', '1.20.5')
    .action(
      action(async (ctx, _args, opts) => {
        const { labUp } = await import('../../lab/up.ts')
        const { SSH_USER } = await import('../../lab/nodes.ts')
        if (opts.sshUser !== undefined && (!SSH_USER.test(opts.sshUser) || opts.sshUser === 'root')) {
          throw new DrError({ code: 'lab.bad-option', message: `--ssh-user ${opts.sshUser} is not a plain user name other than root`, hint: 'for example --ssh-user dr', exit: 'usage' })
        }
        const workers = Number(opts.workers)
        if (!Number.isInteger(workers) || workers < 0 || workers > 5) {
          throw new DrError({ code: 'lab.bad-option', message: `--workers ${opts.workers} is not a number from 0 to 5`, exit: 'usage' })
        }
        if (!/^1\.\d{1,2}\.\d{1,2}$/.test(opts.k8sVersion)) throw new DrError({ code: 'lab.bad-option', message: `--k8s-version ${opts.k8sVersion} is not a version like 1.20.5`, exit: 'usage' })
        const r = await labUp({ name: opts.name, sites: parseSites(opts.sites), workers, subnet: opts.subnet, flavor: parseFlavor(opts.flavor), sshUser: opts.sshUser, k8sVersion: opts.k8sVersion }, ctx.out)
        if (ctx.opts.json) return ctx.out.data({ name: r.plan.name, flavor: r.plan.flavor ?? 'rke', unchanged: r.unchanged, seconds: r.seconds, inventory: r.files.inventory, nodes: r.plan.nodes })
        ctx.out.line(`lab ${r.plan.name} is up${r.unchanged ? ' (unchanged)' : ''} in ${formatDuration(Math.round(r.seconds * 1000))}; inventory: ${r.files.inventory}`)
        ctx.out.line(table(['NODE', 'SITE', 'ROLES', 'ADDRESS'], r.plan.nodes.map((n) => [n.name, n.site, n.roles.join(','), n.ip])))
      }),
    )

  nameOpt(lab.command('status'))
    .description('the lab nodes, their state and their control-plane containers')
    .action(
      action(async (ctx, _args, opts) => {
        const { labStatus } = await import('../../lab/status.ts')
        const rows = await labStatus(opts.name)
        if (ctx.opts.json) return ctx.out.data({ name: opts.name, up: rows.length > 0, nodes: rows })
        if (rows.length === 0) {
          ctx.out.line(`lab ${opts.name} is not up (run \`dr lab up\`)`)
          return 1
        }
        const byIp = new Map(rows.map((r) => [r.ip, r.name]))
        ctx.out.line(
          table(
            ['NODE', 'SITE', 'ROLES', 'ADDRESS', 'STATE', 'ETCD', 'APISERVER', 'KUBELET', 'PARTITIONED FROM'],
            rows.map((r) => [r.name, r.site, r.roles.join(','), r.ip, r.state, r.etcd ?? '-', r.apiserver ?? '-', r.kubelet ?? '-',
              r.partitionedFrom.map((ip) => byIp.get(ip) ?? ip).join(',') || '-']),
          ),
        )
      }),
    )

  nameOpt(lab.command('down'))
    .description('remove every docker object labelled dr.lab=<name> and the lab inventory')
    .action(
      action(async (ctx, _args, opts) => {
        const { labDown } = await import('../../lab/down.ts')
        const r = await labDown(opts.name, ctx.out, { plan: ctx.opts.plan })
        if (ctx.opts.json) return ctx.out.data(r)
        if (r.plan) {
          const p = r.plan
          ctx.out.line(`lab ${opts.name}: would remove ${p.containers.length} containers, ${p.volumes.length} volumes, ${p.networks.length} networks (plan only: nothing removed)`)
          for (const n of [...p.containers, ...p.volumes, ...p.networks]) ctx.out.line(`  ${n}`)
          ctx.out.line(`  and the files ${p.files.join(', ')}`)
          return
        }
        ctx.out.line(`lab ${opts.name} removed: ${r.containers} containers, ${r.volumes} volumes, ${r.networks} networks`)
      }),
    )

  nameOpt(lab.command('stop-site').argument('<site>'))
    .description("power a site off: kill its node containers (no clean shutdown), like a site's power failing")
    .action(
      action(async (ctx, [site], opts) => {
        const { stopSite } = await import('../../lab/faults.ts')
        const nodes = await stopSite(opts.name, site, ctx.out)
        if (ctx.opts.json) return ctx.out.data({ site, stopped: nodes })
        ctx.out.line(nodes.length ? `site ${site} is off: ${nodes.join(', ')}` : `site ${site} was already off`)
      }),
    )

  nameOpt(lab.command('start-site').argument('<site>'))
    .description('power a site on: start its node containers; their docker restarts the control plane like a rebooted host')
    .action(
      action(async (ctx, [site], opts) => {
        const { startSite } = await import('../../lab/faults.ts')
        const nodes = await startSite(opts.name, site, ctx.out)
        if (ctx.opts.json) return ctx.out.data({ site, started: nodes })
        ctx.out.line(nodes.length ? `site ${site} is on: ${nodes.join(', ')} (etcd and the apiservers come back on their own)` : `site ${site} was already on`)
      }),
    )

  nameOpt(lab.command('partition').argument('<siteA>').argument('<siteB>'))
    .description('drop all traffic between two sites (iptables in the nodes); traffic with this machine is untouched')
    .action(
      action(async (ctx, [a, b], opts) => {
        const { partition } = await import('../../lab/faults.ts')
        await partition(opts.name, a, b, ctx.out)
        if (ctx.opts.json) return ctx.out.data({ partitioned: [a, b] })
        ctx.out.line(`sites ${a} and ${b} are partitioned (undo: dr lab heal)`)
      }),
    )

  nameOpt(lab.command('heal'))
    .description('remove every partition')
    .action(
      action(async (ctx, _args, opts) => {
        const { heal } = await import('../../lab/faults.ts')
        const nodes = await heal(opts.name, ctx.out)
        if (ctx.opts.json) return ctx.out.data({ healed: nodes })
        ctx.out.line(nodes.length ? `partition removed on ${nodes.join(', ')}` : 'no partition to remove')
      }),
    )

  nameOpt(lab.command('power').argument('<action>', 'off, on or status').argument('<node>'))
    .description("a node's power switch, the lab's fence agent: off = docker kill, on = docker start, status prints on or off")
    .addHelpText('after', '\nThe lab inventory names it as the sites\' fence agent (fence: off/on/status), so dr fences with it.\n\nExamples:\n  dr lab power status master1\n  dr lab power off master1 --name mylab')
    .action(
      action(async (ctx, [what, node], opts) => {
        const { labPower, labPowerStatus } = await import('../../lab/power.ts')
        if (!['off', 'on', 'status'].includes(what)) throw new DrError({ code: 'lab.bad-option', message: `lab power ${what}: the action is off, on or status`, exit: 'usage' })
        if (what === 'status') {
          const p = await labPowerStatus(opts.name, node)
          if (ctx.opts.json) return ctx.out.data({ node, power: p })
          return ctx.out.line(`${node}: power ${p}`)
        }
        if (ctx.opts.plan) return ctx.out.line(`would power ${what} ${node} (--plan: nothing changed)`)
        const was = await labPower(opts.name, node, what as 'on' | 'off')
        if (ctx.opts.json) return ctx.out.data({ node, power: what, was })
        ctx.out.line(was === what ? `${node}: power was already ${what}` : `${node}: power ${what}`)
        }),
      )

  nameOpt(lab.command('break').argument('<fault>', 'ip-drift | address-change | nospace | cert-expiry | stale-container'))
    .option('--host <node>', 'address-change: the etcd node that moves (default: the first)')
    .description('break the lab on purpose: ip-drift (nodes come back on other addresses), address-change (one etcd node moves to a new address for good; the lab inventory follows it, the cluster does not), nospace (etcd NOSPACE alarm), cert-expiry (an etcd certificate expiring in 2 days), stale-container (kubeadm flavor: an exited container holds the name of the next kube-apiserver, seed 002)')
    .action(
      action(async (ctx, [fault], opts) => {
        const f = await import('../../lab/faults.ts')
        const run: Record<string, () => Promise<unknown>> = {
          'ip-drift': () => f.ipDrift(opts.name, ctx.out),
          'address-change': () => f.addressChange(opts.name, opts.host, ctx.out),
          nospace: () => f.nospace(opts.name, ctx.out),
          'cert-expiry': () => f.certExpiry(opts.name, ctx.out),
          'stale-container': () => f.staleContainer(opts.name, ctx.out),
        }
        if (!run[fault]) throw new DrError({ code: 'lab.no-such-fault', message: `no fault "${fault}"`, hint: `faults: ${Object.keys(run).join(', ')}`, exit: 'usage' })
        const r = await run[fault]()
        if (ctx.opts.json) return ctx.out.data({ fault, result: r })
        ctx.out.line(`lab ${opts.name}: ${fault} done: ${JSON.stringify(r)} (find it: dr doctor -i inventories/${opts.name}.yaml)`)
      }),
    )

  nameOpt(lab.command('ssh').argument('<node>').argument('[command...]'))
    .description('ssh into a lab node with the lab key and known_hosts (use -- before a command with options)')
    .allowUnknownOption()
    .action(
      action(async (_ctx, [node, ...command], opts) => {
        const { labSsh } = await import('../../lab/ssh.ts')
        return labSsh(opts.name, node, command)
      }),
    )
}
