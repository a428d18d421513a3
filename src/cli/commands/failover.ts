// `dr failover` and `dr fence`: thin wrappers that validate options and hand the runbook to the engine.
import { type Command, Option } from 'commander'
import { formatDuration } from '../../core/output.ts'
import { action } from '../run.ts'

// Runbooks and the engine load when a command runs, so `dr --help` stays fast.
const load = async () => ({
  ...(await import('../runbook-command.ts')),
  ...(await import('../../../runbooks/failover/index.ts')),
  ...(await import('../../../runbooks/fence.ts')),
  SKIP_KUBERNETES_NOTE: (await import('../../../runbooks/steps/kube.ts')).SKIP_KUBERNETES_NOTE,
})

export function registerFailover(program: Command) {
  program
    .command('failover')
    .description('rebuild etcd from the surviving site when the other site (holding the etcd majority) is lost')
    .requiredOption('--site <site>', 'the site that survived')
    .addOption(new Option('--method <method>', 'how to rebuild etcd (default: force-new-cluster; a resumed run keeps its method)').choices(['force-new-cluster', 'restore']))
    .option('--force', 'go on even though etcd still has quorum (you are sure the other site is gone)')
    .option('--delete-nodes', "delete the lost site's Node objects instead of tainting them out-of-service")
    .option('--rke-config <file>', "write RKE's cluster.yml without the lost site's nodes (a .bak is kept)")
    .option('--break-lock', "take over the cluster's lock from a dead run")
    .option('--skip-kubernetes', "leave Kubernetes to you: do not move the lost site's pods nor check apiserver readiness (the summary says so)")
    .addHelpText(
      'after',
      `
What it does (each step checks first, applies, then verifies; a re-run resumes where a killed run stopped):
  1. reaches every etcd member; refuses while etcd still has quorum (a linearizable read succeeds) unless --force
  2. picks the survivor: the reachable member of --site with the highest raft applied index
  3. takes a safety snapshot of the survivor (locally, with its sha256) and copies its data dir aside
  4. rebuilds etcd from the survivor (see --method), removes every member outside the site
  5. points each surviving kube-apiserver's --etcd-servers at the live members only, restarts kubelet, waits for /readyz
  6. taints the lost site's Nodes node.kubernetes.io/out-of-service=nodeshutdown:NoExecute (or deletes them), then
     force-deletes their pods the pod GC would remove (orphaned or terminating) instead of waiting 20-60 s for it
  7. verifies: quorum read and write, key count, no --force-new-cluster left, apiservers ready; prints the recovery time

Methods:
  force-new-cluster  (default, as in seed 003) restart the survivor with --force-new-cluster and itself as the only
                     member, wait for a leader and a write, then re-create it without the flag. Keeps the data,
                     the revision and the cluster ID.
  restore            restore the safety snapshot as a new one-member cluster with a fresh --initial-cluster-token:
                     a new cluster ID, so the old members can never merge back.

No etcd data is deleted: old containers are kept as <name>-old-<time>, the data dir as <dir>.dr-before-failover-<time>.
When the lost site comes back, fence it before it can form its own quorum: dr fence --site <lost site>.

Examples:
  dr failover --site B --plan
  dr failover --site B --yes --json`,
    )
    .action(
      action(async (ctx, _args, opts) => {
        const { runRunbook, failover, SKIP_KUBERNETES_NOTE } = await load()
        const inv = await ctx.inventory()
        const lost = Object.keys(inv.sites).filter((s) => s !== opts.site)
        if (opts.skipKubernetes) ctx.out.warn(SKIP_KUBERNETES_NOTE)
        return runRunbook(ctx, failover, { site: opts.site, method: opts.method, force: !!opts.force, deleteNodes: !!opts.deleteNodes, rkeConfig: opts.rkeConfig, skipKubernetes: !!opts.skipKubernetes }, {
          breakLock: !!opts.breakLock,
          onReport: (r) => {
            return r.status === 'succeeded'
              ? [
                  ...(opts.skipKubernetes ? [SKIP_KUBERNETES_NOTE] : []),
                  `Recovery time: ${formatDuration(r.durationMs)} (from start to verified)`,
                  `Next: when the lost site's hosts come back, fence them before anything else: ${lost.map((x) => `dr fence --site ${x}`).join('; ')}`,
                ]
              : []
          },
        })
      }),
    )

  program
    .command('fence')
    .description("keep a lost site's old etcd members and apiservers down when its hosts come back")
    .requiredOption('--site <site>', 'the lost site to fence')
    .option('--break-lock', "take over the cluster's lock from a dead run")
    .addHelpText(
      'after',
      `
For each reachable etcd/controlplane host of the site: restart policy off, etcd and kube-apiserver stopped and
renamed <name>-fenced-<time>, the etcd data dir moved to <dir>.dr-fenced-<time>, and ${'/var/lib/dr/fence.json'}
written. A host that does not answer on TCP is powered off through its fence agent (inventory \`fence:\`, per
site or host: off/status commands such as ipmitool or virsh) and confirmed off. Idempotent.

Exits non-zero and names the host when any host is left unfenced: authentication fails, its host key changed
(never taken for "unreachable"), or it is unreachable with no fence agent — its etcd may still form a quorum.

Example:
  dr fence --site A --yes`,
    )
    .action(
      action(async (ctx, _args, opts) => {
        const { runRunbook, fence } = await load()
        return runRunbook(ctx, fence, { site: opts.site }, { breakLock: !!opts.breakLock })
      }),
    )
}
