// `dr check [preflight|nodes|etcd|kubernetes|backups|all]`: every host at once (ssh.concurrency at a time), each
// result OK / WARN / FAIL with its evidence and the fix. Exit 0 when all is OK, 5 when anything is not.
import type { Command } from 'commander'
import { DrError, ExitCode } from '../../core/error.ts'
import { formatDuration, table } from '../../core/output.ts'
import { CATEGORIES, worst, type Category, type CheckResult } from '../../check/types.ts'
import { action } from '../run.ts'

export function parseCategories(args: string[]): Category[] {
  if (args.length === 0 || args.includes('all')) return [...CATEGORIES]
  for (const a of args) {
    if (!CATEGORIES.includes(a as Category)) {
      throw new DrError({ code: 'check.unknown-category', message: `no check category "${a}"`, hint: `use one or more of: ${CATEGORIES.join(', ')}, all`, exit: 'usage' })
    }
  }
  return args as Category[]
}

export function renderResults(results: CheckResult[], verbose: boolean): string {
  const lines = [table(['STATE', 'CATEGORY', 'CHECK', 'SUBJECT', 'RESULT'], results.map((r) => [r.status.toUpperCase(), r.category, r.check, r.subject, r.message]))]
  const bad = results.filter((r) => r.status !== 'ok')
  if (bad.length) lines.push('', 'To fix:')
  for (const r of bad) {
    lines.push(`  ${r.status.toUpperCase()} ${r.subject} ${r.check}: ${r.fix ?? ''}`)
    for (const e of r.evidence ?? []) lines.push(`      | ${e}`)
  }
  if (verbose) for (const r of results.filter((x) => x.status === 'ok' && x.evidence)) for (const e of r.evidence!) lines.push(`  ${r.subject} ${r.check} | ${e}`)
  return lines.join('\n')
}

export function registerCheck(program: Command) {
  program
    .command('check')
    .description('health checks on every host and the cluster: OK / WARN / FAIL with evidence and the fix; exit 5 when anything is not OK')
    .argument('[categories...]', `${CATEGORIES.join(' | ')} | all (default: all)`)
    .addHelpText('after', `
Examples:
  dr check                  # everything
  dr check preflight nodes  # ssh, sudo, docker, disk, swap, clock skew, ports, containers
  dr check etcd --json      # health, quorum, alarms, DB size vs quota, leader changes, peer URLs, certificates
  dr check kubernetes       # apiserver /readyz, --etcd-servers vs the member list, Nodes Ready
  dr check backups          # age of the newest backup in every store`)
    .action(
      action(async (ctx, args) => {
        const cats = parseCategories(args)
        const inv = await ctx.inventory()
        const [{ Connections }, { runChecks }] = await Promise.all([import('../../transport/connect.ts'), import('../../check/run.ts')])
        const conns = new Connections(inv, { out: ctx.out })
        try {
          const run = await runChecks(inv, conns, cats, ctx.out)
          const status = worst(run.results)
          if (ctx.opts.json) ctx.out.data({ status, categories: cats, durationMs: run.durationMs, results: run.results })
          else {
            ctx.out.line(renderResults(run.results, ctx.opts.verbose))
            const n = (s: string) => run.results.filter((r) => r.status === s).length
            ctx.out.line(`\n${status.toUpperCase()}: ${n('ok')} ok, ${n('warn')} warn, ${n('fail')} fail — ${Object.keys(inv.hosts).length} hosts in ${formatDuration(run.durationMs)}`)
          }
          return status === 'ok' ? ExitCode.ok : ExitCode.problems
        } finally {
          await conns.close()
        }
      }),
    )
}
