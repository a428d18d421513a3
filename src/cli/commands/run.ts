// `dr run FILE [-- args…]`: an operator's own runbook (a zx script exporting steps) on dr's engine — the same
// plan, confirmation, journal, lock and resume as `dr failover`.
import type { Command } from 'commander'
import { action } from '../run.ts'

export function registerRun(program: Command) {
  program
    .command('run')
    .description("run your own runbook: a .mjs or .ts file exporting steps (check → apply → verify), with dr's plan, journal, lock and resume")
    .argument('<file>', 'the runbook (.mjs, .js, .ts, .mts)')
    .argument('[args...]', 'arguments for the runbook, after --')
    .option('--break-lock', "take over the cluster's lock from a dead run")
    .addHelpText(
      'after',
      `
The file exports its steps; each gets a context with the inventory, a $ per host, etcd and Kubernetes clients:

  export const title = 'Check free disk on the etcd hosts'
  export default function steps({ on, hostsWithRole, args }) {
    return [{
      id: 'disk', title: 'Check free disk on every etcd host',
      async check() { … return problems },   // no apply: a probe, problems stop the run (exit 5)
    }]
  }

Context: inv, argv (after --), args (parsed), $ (zx, this machine), on(host)\`cmd\`, on([hosts])\`cmd\` (parallel),
hostsWithRole(role), hostsInSite(site), transport(host), etcd(host), kube(host?), parallel(items, fn), log(msg),
error({ code, message, host, hint, exit }), stateDir, facts (what assess returned).
See "Writing your own runbook" in README.md and runbooks/examples/.

Examples:
  dr run runbooks/examples/preflight.mjs --plan -- --min-free 15
  dr run runbooks/examples/move-etcd-data-dir.mjs --plan -- --host master3 --to /var/lib/etcd-data
  dr run runbooks/examples/renew-etcd-cert.mjs --yes -- --host master3 --ca-cert pki/kube-ca.pem --ca-key pki/kube-ca-key.pem`,
    )
    .action(
      action(async (ctx, [file, ...argv], opts) => {
        const { loadUserRunbook, userRunbook } = await import('../../runbook/user-runbook.ts')
        const { RunContext } = await import('../../runbook/run-context.ts')
        const { runRunbook } = await import('../runbook-command.ts')
        const { parseArgv } = await import('zx')
        // The file first: a missing or malformed runbook is a usage error whatever the inventory.
        const loaded = await loadUserRunbook(file)
        const inv = await ctx.inventory()
        const rctx = new RunContext({ inv, out: ctx.out, argv, file: loaded.file, name: loaded.name }, (a) => parseArgv(a, { camelCase: true }))
        try {
          return await runRunbook(ctx, userRunbook(loaded, rctx), { file: loaded.file, argv }, { breakLock: !!opts.breakLock })
        } finally {
          await rctx.close()
        }
      }),
    )
}
