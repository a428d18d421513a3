// `dr member add|remove|replace`: thin wrappers that hand the member runbooks to the engine.
import type { Command } from 'commander'
import { action } from '../run.ts'

const load = async () => ({
  ...(await import('../runbook-command.ts')),
  ...(await import('../../../runbooks/member/runbooks.ts')),
})

export function registerMember(program: Command) {
  const member = program
    .command('member')
    .description('add, remove or replace one etcd member at a time, keeping quorum (learners, etcd ≥ 3.4)')
    .addHelpText(
      'after',
      `
Examples:
  dr member add master1 --plan
  dr member remove master5 --yes
  dr member replace master1 --with master4 --yes`,
    )

  member
    .command('add')
    .description("join a host's etcd to the cluster as a learner, promote it once caught up, repoint every apiserver")
    .argument('<host>', 'an inventory host with the etcd role')
    .option('--break-lock', "take over the cluster's lock from a dead run")
    .addHelpText(
      'after',
      `
Steps (each checks first, applies, verifies; a run killed anywhere resumes):
  1. stop what the host has left of etcd; move an old data dir to <dir>.dr-quarantined-<time> (never merged)
  2. an etcd container: the host's own kept one (etcd-fenced-*, etcd-old-*, etcd-removed-*), else a member's
     container with that member's name, addresses and certificate paths replaced by the host's
  3. member add --learner (refused while another member is joining or any member is unhealthy)
  4. start it: empty data dir, --initial-cluster-state=existing, --initial-cluster = the cluster's members
  5. wait until its applied index is within 100 of the leader's, then member promote
  6. every kube-apiserver: --etcd-servers = every voting member, kubelet restarted, /readyz

Examples:
  dr member add master1 --plan
  dr member add master1 --yes --json`,
    )
    .action(
      action(async (ctx, args, opts) => {
        const { runRunbook, memberAdd } = await load()
        return runRunbook(ctx, memberAdd, { host: args[0] }, { breakLock: !!opts.breakLock })
      }),
    )

  member
    .command('remove')
    .description("take a host's member out of the cluster: apiservers first stop naming it, then member remove, then its etcd stops")
    .argument('<host>', 'the inventory host whose member leaves')
    .option('--break-lock', "take over the cluster's lock from a dead run")
    .addHelpText(
      'after',
      `
Refused (exit 3) when the members left would not have a healthy quorum, or when it is the only healthy member.
Its etcd container is kept as etcd-removed-<time>, its data dir as <dir>.dr-removed-<time>.

Examples:
  dr member remove master5 --plan
  dr member remove master5 --yes`,
    )
    .action(
      action(async (ctx, args, opts) => {
        const { runRunbook, memberRemove } = await load()
        return runRunbook(ctx, memberRemove, { host: args[0] }, { breakLock: !!opts.breakLock })
      }),
    )

  member
    .command('replace')
    .description('replace a failed control-plane node (seed 004): remove its member, add the new host, fix --etcd-servers, move the Node')
    .argument('<old>', 'the failed host (may be unreachable)')
    .requiredOption('--with <new>', 'the host that takes its place (etcd role, certificates in place)')
    .option('--break-lock', "take over the cluster's lock from a dead run")
    .addHelpText(
      'after',
      `
Removing the old member must keep quorum (as dr member remove); the new host joins as dr member add does. The old
host's Node object is deleted so its pods reschedule; the new host's kubelet registers its own Node.

Example:
  dr member replace master1 --with master4 --yes`,
    )
    .action(
      action(async (ctx, args, opts) => {
        const { runRunbook, memberReplace } = await load()
        return runRunbook(ctx, memberReplace, { host: args[0], with: opts.with }, { breakLock: !!opts.breakLock })
      }),
    )
}
