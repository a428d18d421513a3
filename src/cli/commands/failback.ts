// `dr failback --site A`: a thin wrapper that hands the failback runbook to the engine.
import type { Command } from 'commander'
import { action } from '../run.ts'

export function registerFailback(program: Command) {
  program
    .command('failback')
    .description("after a failover, bring the lost site's hosts home: fenced, rejoined one member at a time, apiservers restored")
    .requiredOption('--site <site>', 'the site that was lost and has come back')
    .option('--break-lock', "take over the cluster's lock from a dead run")
    .addHelpText(
      'after',
      `
Steps (each checks first, applies, verifies; a run killed anywhere resumes; a finished failback has nothing to do):
  1. fence the site's hosts that are not fenced yet (dr fence): old etcd and apiservers stopped, data quarantined
  2. each etcd host not yet a member, one at a time (dr member add): a learner with an empty data dir, caught up,
     promoted — old data is never merged
  3. the site's fenced kube-apiservers brought back; every apiserver's --etcd-servers = all etcd hosts
  4. the site's Nodes: out-of-service taints lifted (deleted Nodes re-registered by restarting their kubelet)
  5. the fence markers lifted; verify: every inventory etcd host a started voting member, every apiserver listing
     all of them, quorum read and write

Needs quorum (the surviving site) and every etcd host of the site reachable.

Examples:
  dr failback --site A --plan
  dr failback --site A --yes`,
    )
    .action(
      action(async (ctx, _args, opts) => {
        const { runRunbook } = await import('../runbook-command.ts')
        const { failback } = await import('../../../runbooks/failback/failback.ts')
        return runRunbook(ctx, failback, { site: opts.site }, { breakLock: !!opts.breakLock })
      }),
    )
}
