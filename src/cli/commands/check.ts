// `dr check`: a list of checks, each returning findings; warnings or failures make the exit code 5.
// For now: backup freshness per store. New checks are one more entry in CHECKS.
import type { Command } from 'commander'
import { ExitCode } from '../../core/error.ts'
import { table } from '../../core/output.ts'
import type { Inventory } from '../../inventory/types.ts'
import { Connections } from '../../transport/connect.ts'
import { listBackups } from '../../backup/catalog.ts'
import { backupFreshness, type Finding } from '../../backup/freshness.ts'
import { openNamedStore } from '../../backup/run-backup.ts'
import { action } from '../run.ts'

interface CheckEnv {
  inv: Inventory
  conns: Connections
  now: Date
}

type CheckFn = (env: CheckEnv) => Promise<Finding[]>

async function backupFreshnessCheck({ inv, conns, now }: CheckEnv): Promise<Finding[]> {
  const findings: Finding[] = []
  for (const name of Object.keys(inv.backup.stores)) {
    try {
      const store = await openNamedStore(inv, conns, name)
      const entries = await listBackups(store, { cluster: inv.cluster })
      await store.close()
      const newest = entries.filter((e) => e.problems.length === 0).at(-1)
      findings.push(backupFreshness({ store: name, newest, schedule: inv.backup.schedule, now }))
    } catch (e) {
      findings.push({ check: 'backup-freshness', severity: 'fail', subject: `store ${name}`, message: `cannot list store "${name}": ${(e as Error).message}`, hint: 'check the store configuration and that its host is reachable' })
    }
  }
  return findings
}

const CHECKS: Record<string, CheckFn> = {
  'backup-freshness': backupFreshnessCheck,
}

export function registerCheck(program: Command) {
  program
    .command('check')
    .description('health checks with findings (for now: backup freshness); exit 5 when something needs attention')
    .option('--only <names>', `comma-separated checks to run (${Object.keys(CHECKS).join(', ')})`)
    .action(
      action(async (ctx, _args, opts) => {
        const inv = await ctx.inventory()
        const conns = new Connections(inv, { out: ctx.out })
        const names = opts.only ? String(opts.only).split(',') : Object.keys(CHECKS)
        const findings: Finding[] = []
        try {
          for (const n of names) {
            const fn = CHECKS[n.trim()]
            if (!fn) findings.push({ check: n, severity: 'fail', subject: '-', message: `no check named "${n}"` })
            else findings.push(...(await fn({ inv, conns, now: new Date() })))
          }
        } finally {
          await conns.close()
        }
        if (ctx.opts.json) ctx.out.data({ findings })
        else {
          ctx.out.line(table(['CHECK', 'SUBJECT', 'STATE', 'FINDING'], findings.map((f) => [f.check, f.subject, f.severity.toUpperCase(), f.message])))
          for (const f of findings) if (f.severity !== 'ok' && f.hint) ctx.out.line(`  ${f.subject}: ${f.hint}`)
        }
        return findings.some((f) => f.severity !== 'ok') ? ExitCode.problems : 0
      }),
    )
}
