// `dr doctor [--fix]`: the known failure signatures (seeds 000–004), each with its evidence and its fix. Without
// --fix it changes nothing; with --fix the fixes run as one runbook through the engine (plan, confirm or --yes,
// journal, verify), and the cluster is diagnosed again at the end. Exit 0 healthy, 5 when a problem is found.
import type { Command } from 'commander'
import { ExitCode } from '../../core/error.ts'
import type { Diagnosis } from '../../doctor/types.ts'
import { action } from '../run.ts'

export function renderDiagnoses(ds: Diagnosis[]): string {
  if (!ds.length) return 'No known failure signature found.'
  const out: string[] = []
  for (const d of ds) {
    out.push(`${d.id.toUpperCase()} ${d.subject}: ${d.title}`, `  cause:    ${d.cause}`, '  evidence:')
    for (const e of d.evidence) out.push(`    | ${e}`)
    out.push(`  fix:      ${d.fix}${d.fixable ? ' (dr doctor --fix)' : ''}`, '')
  }
  return out.join('\n').trimEnd()
}

export function registerDoctor(program: Command) {
  program
    .command('doctor')
    .description('find the known failure signatures with their evidence; --fix repairs them through a runbook (plan, confirm, journal, verify)')
    .option('--fix', 'repair what has a fix (shows the plan; --yes to apply without asking, --plan to only show it)')
    .option('--ca-key <file>', "the cluster CA private key, to re-issue expiring certificates and a moved host's etcd certificate")
    .addHelpText('after', `
Signatures: ip-drift (a docker-run node came back on another address, seeds 000/001), address-changed (a host
moved for good and the inventory has its new address: with quorum among the other members, --fix updates the
member's peer URL, re-issues its etcd certificate for the new address (--ca-key), re-creates its etcd with every
old address replaced, waits until it is caught up, then repoints every kube-apiserver's --etcd-servers), nospace
(etcd NOSPACE alarm), cert-expiry, etcd-servers (apiserver names non-members, seed 003), quorum-lost (names the
site that can take over and the dr failover command), stale-container (seed 002: an exited container holds the
name the kubelet needs).

Examples:
  dr doctor                        # diagnose; exit 5 when something is found
  dr doctor --json
  dr doctor --fix --plan           # what the fix would do
  dr doctor --fix --yes            # fix, then diagnose again
  dr doctor --fix --yes --ca-key cluster-ca-key.pem
  dr lab break address-change --host master1 --name lab && dr doctor --fix --yes --ca-key inventories/lab/pki/kube-ca-key.pem -i inventories/lab.yaml`)
    .action(
      action(async (ctx, _args, opts) => {
        const { doctor, diagnose } = await import('../../../runbooks/doctor/index.ts')
        const { Connections } = await import('../../transport/connect.ts')
        const { runRunbook } = await import('../runbook-command.ts')
        if (opts.fix) {
          const inv = await ctx.inventory()
          await runRunbook(ctx, doctor, { caKey: opts.caKey })
          if (ctx.opts.plan) return ExitCode.ok
          // Signatures dr cannot fix (quorum lost) are still there: say so with exit 5.
          const conns = new Connections(inv, { out: ctx.out })
          try {
            const after = (await diagnose(inv, conns)).diagnoses
            if (after.length && !ctx.opts.json) ctx.out.line('\n' + renderDiagnoses(after))
            return after.length ? ExitCode.problems : ExitCode.ok
          } finally {
            await conns.close()
          }
        }
        const inv = await ctx.inventory()
        const conns = new Connections(inv, { out: ctx.out })
        try {
          const { diagnoses, evidence } = await diagnose(inv, conns, ctx.out)
          if (ctx.opts.json) ctx.out.data({ healthy: diagnoses.length === 0, diagnoses, checks: evidence.run.results.filter((r) => r.status !== 'ok') })
          else {
            ctx.out.line(renderDiagnoses(diagnoses))
            const other = evidence.run.results.filter((r) => r.status !== 'ok')
            if (!diagnoses.length && other.length) ctx.out.line(`\n${other.length} check(s) not OK without a known signature: run dr check`)
          }
          return diagnoses.length ? ExitCode.problems : ExitCode.ok
        } finally {
          await conns.close()
        }
      }),
    )
}
