// `dr backup …`: thin commands over src/backup — validate options, open the store(s), run, render.
import path from 'node:path'
import type { Command } from 'commander'
import { DrError, ExitCode } from '../../core/error.ts'
import { formatBytes, formatDuration, table } from '../../core/output.ts'
import type { Inventory } from '../../inventory/types.ts'
import type { Connections } from '../../transport/connect.ts'
import type * as Catalog from '../../backup/catalog.ts'
import type * as Daemon from '../../backup/daemon.ts'
import type * as Prune from '../../backup/prune.ts'
import type * as RunBackup from '../../backup/run-backup.ts'
import type * as Schedule from '../../backup/schedule-install.ts'
import type * as Verify from '../../backup/verify.ts'
import type { BackupEntry } from '../../backup/catalog.ts'
import type { VerifyReport } from '../../backup/verify.ts'
import { action, checkNumber } from '../run.ts'
import type { CliContext } from '../context.ts'

// The backup modules (etcd3, age, the S3 client, ssh2) load when a backup command runs, not for `dr --help`.
let ConnectionsClass: typeof import('../../transport/connect.ts').Connections
let listBackups: typeof Catalog.listBackups
let runDaemon: typeof Daemon.runDaemon
let applyPrune: typeof Prune.applyPrune
let planPrune: typeof Prune.planPrune
let openNamedStore: typeof RunBackup.openNamedStore
let planBackup: typeof RunBackup.planBackup
let readIdentities: typeof RunBackup.readIdentities
let runBackup: typeof RunBackup.runBackup
let storeConfig: typeof RunBackup.storeConfig
let installSchedule: typeof Schedule.installSchedule
let scheduleSpec: typeof Schedule.scheduleSpec
let verifyBackup: typeof Verify.verifyBackup

async function loadBackup() {
  ;({ Connections: ConnectionsClass } = await import('../../transport/connect.ts'))
  ;({ listBackups } = await import('../../backup/catalog.ts'))
  ;({ runDaemon } = await import('../../backup/daemon.ts'))
  ;({ applyPrune, planPrune } = await import('../../backup/prune.ts'))
  ;({ openNamedStore, planBackup, readIdentities, runBackup, storeConfig } = await import('../../backup/run-backup.ts'))
  ;({ installSchedule, scheduleSpec } = await import('../../backup/schedule-install.ts'))
  ;({ verifyBackup } = await import('../../backup/verify.ts'))
}

async function withConnections<T>(ctx: CliContext, fn: (inv: Inventory, conns: Connections) => Promise<T>): Promise<T> {
  const inv = await ctx.inventory()
  const conns = new ConnectionsClass(inv, { out: ctx.out })
  try {
    return await fn(inv, conns)
  } finally {
    await conns.close()
  }
}

const storeNames = (inv: Inventory, name?: string) => (name ? [storeConfig(inv, name).name] : Object.keys(inv.backup.stores))

function renderVerify(ctx: CliContext, r: VerifyReport) {
  for (const c of r.checks) ctx.out.line(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name.padEnd(20)} ${c.detail}`)
  ctx.out.line(r.ok ? `backup ${r.id} is restorable (${formatDuration(r.durationMs)})` : `backup ${r.id} did NOT verify`)
}

const publicEntry = (e: BackupEntry) => {
  const { metadata, ...rest } = e
  return { ...rest, keyCount: metadata?.keyCount ?? null, etcdVersion: metadata?.etcdVersion ?? null }
}

export function registerBackup(program: Command) {
  const backup = program.command('backup').description('scheduled, verified, encrypted etcd backups in a directory, over SFTP or in S3').hook('preAction', loadBackup)

  backup
    .command('now')
    .description('snapshot one member (a healthy follower by default) into a store')
    .option('--store <name>', 'store from the inventory (default: backup.defaultStore)')
    .option('--member <host>', 'etcd host to snapshot')
    .option('--verify', 'then fetch it back and restore it into a throwaway etcd')
    .option('--retries <n>', 'upload attempts before giving up, with backoff from 2 s (default 4)')
    .action(
      action(async (ctx, _args, opts) => {
        const attempts = opts.retries === undefined ? undefined : Number(opts.retries)
        if (attempts !== undefined && !(Number.isInteger(attempts) && attempts >= 1)) {
          throw new DrError({ code: 'usage.bad-option', message: `--retries ${opts.retries}: expected a whole number ≥ 1`, exit: 'usage' })
        }
        return withConnections(ctx, async (inv, conns) => {
          if (ctx.opts.plan) {
            const p = await planBackup(inv, conns, { store: opts.store, member: opts.member, verify: !!opts.verify, out: ctx.out })
            if (ctx.opts.json) ctx.out.data({ plan: true, ...p })
            else {
              ctx.out.line(`Plan: snapshot ${p.member.host} (${p.member.why}) into store "${p.store}" (${p.type})`)
              ctx.out.line(`  at ${p.location}${p.encrypted ? ', encrypted with age' : ', not encrypted (no backup.encryption.recipients)'}`)
              if (p.verify) ctx.out.line('  then verify it by a restore into a throwaway etcd on this machine')
              ctx.out.line('plan only: nothing was taken or written')
            }
            return 0
          }
          const retry = attempts === undefined ? undefined : { attempts, baseDelayMs: 2000 }
          const r = await runBackup(inv, conns, { store: opts.store, member: opts.member, verify: !!opts.verify, out: ctx.out, retry })
          const m = r.taken.metadata
          if (ctx.opts.json) ctx.out.data({ id: m.id, store: r.store, location: r.taken.location, member: r.member, metadata: m, verify: r.verify })
          else {
            ctx.out.line(`backup ${m.id}: revision ${m.revision}, ${formatBytes(m.snapshot.size)} snapshot → ${formatBytes(m.stored.size)} stored`)
            ctx.out.line(`  member:   ${r.member.host} (${r.member.why})`)
            ctx.out.line(`  store:    ${r.store} ${r.taken.location}`)
            ctx.out.line(`  sha256:   ${m.snapshot.sha256}`)
            ctx.out.line(`  took:     ${formatDuration(r.taken.durationMs)}${r.taken.uploadAttempts > 1 ? ` (${r.taken.uploadAttempts} upload attempts)` : ''}`)
            if (r.verify) renderVerify(ctx, r.verify)
          }
          return r.verify && !r.verify.ok ? ExitCode.unverified : 0
        })
      }),
    )

  backup
    .command('list')
    .description('backups in the store(s), oldest first')
    .option('--store <name>', 'only this store (default: every store)')
    .action(
      action(async (ctx, _args, opts) => {
        return withConnections(ctx, async (inv, conns) => {
          const all: BackupEntry[] = []
          let failed = 0
          for (const name of storeNames(inv, opts.store)) {
            try {
              const store = await openNamedStore(inv, conns, name)
              all.push(...(await listBackups(store, { cluster: inv.cluster })))
              await store.close()
            } catch (e) {
              failed++
              ctx.out.warn(`store "${name}" could not be listed: ${(e as Error).message}`)
            }
          }
          if (ctx.opts.json) ctx.out.data(all.map(publicEntry))
          else if (all.length === 0) ctx.out.line('no backups')
          else {
            const rows = all.map((e) => [e.id, e.store, String(e.revision), formatBytes(e.size), e.createdAt.slice(0, 19) + 'Z', e.encrypted ? 'age' : '-', e.problems.join('; ') || 'ok'])
            ctx.out.line(table(['ID', 'STORE', 'REVISION', 'SIZE', 'CREATED', 'ENC', 'STATE'], rows))
          }
          return failed > 0 ? ExitCode.failed : 0
        })
      }),
    )

  backup
    .command('verify')
    .description('fetch, decrypt, decompress, check digests and restore into a throwaway etcd on loopback')
    .argument('<id>', 'backup id (from `dr backup list`)')
    .option('--store <name>', 'store holding it (default: search every store)')
    .option('--identity <file>', 'age identity file (default: backup.encryption.identityFile)')
    .action(
      action(async (ctx, args, opts) => {
        return withConnections(ctx, async (inv, conns) => {
          const id = args[0]
          const identities = await readIdentities(inv, opts.identity ? path.resolve(opts.identity) : undefined)
          for (const name of storeNames(inv, opts.store)) {
            const store = await openNamedStore(inv, conns, name)
            try {
              const has = (await listBackups(store)).some((e) => e.id === id || e.payload === id)
              if (!has) continue
              ctx.out.progress(`verifying ${id} from store "${name}"`)
              const r = await verifyBackup(store, id, { identities })
              if (ctx.opts.json) ctx.out.data(r)
              else renderVerify(ctx, r)
              return r.ok ? 0 : ExitCode.unverified
            } finally {
              await store.close()
            }
          }
          throw new DrError({ code: 'backup.not-found', message: `no backup ${id} in ${opts.store ? `store "${opts.store}"` : 'any store'}`, hint: 'run `dr backup list` to see the ids', exit: 'usage' })
        })
      }),
    )

  backup
    .command('prune')
    .description('delete backups the retention policy does not keep (never the newest); --plan shows what would go')
    .option('--store <name>', 'store to prune (default: backup.defaultStore)')
    .option('--plan', 'show the plan and delete nothing')
    .action(
      action(async (ctx, _args, opts) => {
        return withConnections(ctx, async (inv, conns) => {
          const store = await openNamedStore(inv, conns, opts.store)
          try {
            const policy = inv.backup.retention
            const plan = await planPrune(store, inv.cluster, policy)
            const planOnly = !!opts.plan || ctx.opts.plan
            const result = planOnly ? undefined : await applyPrune(store, plan)
            if (ctx.opts.json) {
              ctx.out.data({ store: store.name, policy, plan: true === planOnly, keep: plan.keep.map((k) => ({ id: k.item.id, reasons: k.reasons })), remove: plan.remove.map((e) => e.id), ...result })
            } else {
              ctx.out.line(`retention on "${store.name}": last ${policy.last}, daily ${policy.daily}, weekly ${policy.weekly}, monthly ${policy.monthly}`)
              for (const k of plan.keep) ctx.out.line(`  keep    ${k.item.id}  (${k.reasons.join(', ')})`)
              for (const e of plan.remove) ctx.out.line(`  ${planOnly ? 'would delete' : 'delete'}  ${e.id}`)
              if (planOnly) ctx.out.line(`plan only: ${plan.remove.length} backup(s) would be deleted`)
              else ctx.out.line(`deleted ${result!.deleted.length} backup(s)${result!.failed.length ? `, ${result!.failed.length} failed` : ''}`)
              for (const f of result?.failed ?? []) ctx.out.warn(`could not delete ${f.id}: ${f.error}`)
            }
            return result && result.failed.length > 0 ? ExitCode.failed : 0
          } finally {
            await store.close()
          }
        })
      }),
    )

  backup
    .command('restore')
    .description('rebuild the whole cluster from a backup when every member is lost (plan, confirm, journal)')
    .argument('<id>', 'backup id (from `dr backup list`)')
    .option('--store <name>', 'store holding it')
    .option('--identity <file>', 'age identity file (default: backup.encryption.identityFile)')
    .option('--force', 'restore even though etcd still has quorum (rolls a working cluster back)')
    .option('--break-lock', "take over the cluster's lock from a dead run")
    .action(
      action(async (ctx, args, opts) => {
        const { runRunbook } = await import('../runbook-command.ts')
        const { restoreRunbook } = await import('../../../runbooks/backup-restore/index.ts')
        const identity = opts.identity ? path.resolve(opts.identity) : undefined
        return runRunbook(ctx, restoreRunbook, { id: args[0], store: opts.store, identity, force: !!opts.force }, { breakLock: !!opts.breakLock })
      }),
    )

  backup
    .command('schedule')
    .description('write a systemd timer+service (or a cron.d line) running `backup now` then `prune`; prints them without --install')
    .option('--cron <expr>', 'cron expression (default: backup.schedule)')
    .option('--install <kind>', 'systemd or cron: write the files')
    .option('--store <name>', 'store for the scheduled runs')
    .option('--verify', 'verify every scheduled backup')
    .option('--unit-dir <dir>', 'where systemd units go', '/etc/systemd/system')
    .option('--cron-dir <dir>', 'where the cron.d file goes', '/etc/cron.d')
    .option('--user <name>', 'user the job runs as')
    .action(
      action(async (ctx, _args, opts) => {
        const inv = await ctx.inventory()
        if (opts.install && !['systemd', 'cron'].includes(opts.install)) {
          throw new DrError({ code: 'usage.bad-option', message: `--install ${opts.install}: expected systemd or cron`, exit: 'usage' })
        }
        const spec = scheduleSpec(inv, { cron: opts.cron, store: opts.store, verify: !!opts.verify, user: opts.user })
        const r = await installSchedule(spec, { install: opts.install, unitDir: opts.unitDir, cronDir: opts.cronDir, plan: ctx.opts.plan })
        if (ctx.opts.json) ctx.out.data(r)
        else {
          for (const f of r.files) {
            ctx.out.line(`# ${f.path}${r.installed ? ' (written)' : ''}`)
            ctx.out.line(f.content)
          }
          for (const n of r.notes) ctx.out.line(n)
        }
      }),
    )

  backup
    .command('daemon')
    .description('run `backup now` then `prune` on a cron schedule in the foreground (for containers); SIGTERM stops it')
    .option('--cron <expr>', 'cron expression (default: backup.schedule)')
    .option('--store <name>', 'store for the runs')
    .option('--verify', 'verify every backup')
    .option('--max-failures <n>', 'exit 1 after this many failed runs in a row, so a supervisor sees it (default 3)', '3')
    .option('--run-now', 'take a backup at start, then follow the schedule')
    .addHelpText(
      'after',
      `
Exit status: 0 when stopped by SIGTERM/SIGINT after a good run (or before any run); 1 when --max-failures runs in a
row failed, or when stopped right after a failed run. Each failure is also counted in backup.metricsFile.

Example:
  dr backup daemon --cron "*/30 * * * *" --run-now --max-failures 2`,
    )
    .action(
      action(async (ctx, _args, opts) => {
        const maxFailures = checkNumber('--max-failures', opts.maxFailures, { unit: 'failed runs in a row', integer: true, min: 1 })
        return withConnections(ctx, async (inv, conns) => {
          const cron = opts.cron ?? inv.backup.schedule
          if (!cron) throw new DrError({ code: 'backup.no-schedule', message: 'no cron expression', hint: 'pass --cron "0 */6 * * *" or set backup.schedule', exit: 'usage' })
          const stop = new AbortController()
          const onSignal = (sig: string) => {
            ctx.out.progress(`${sig}: stopping`)
            stop.abort(new Error(sig))
          }
          process.once('SIGTERM', () => onSignal('SIGTERM'))
          process.once('SIGINT', () => onSignal('SIGINT'))
          const r = await runDaemon({
            cron,
            signal: stop.signal,
            maxFailures,
            runAtStart: !!opts.runNow,
            onSchedule: (next) => ctx.out.progress(`next backup at ${next.toISOString()}`),
            onError: (e) => ctx.out.warn(`backup run failed: ${(e as Error).message}`),
            run: async (signal) => {
              await runBackup(inv, conns, { store: opts.store, verify: !!opts.verify, out: ctx.out, signal })
              const store = await openNamedStore(inv, conns, opts.store)
              try {
                const res = await applyPrune(store, await planPrune(store, inv.cluster, inv.backup.retention))
                if (res.deleted.length) ctx.out.progress(`pruned ${res.deleted.length} backup(s)`)
              } finally {
                await store.close()
              }
            },
          })
          ctx.out.progress(`stopped after ${r.runs} run(s), ${r.failures} failed`)
          if (r.gaveUp || r.consecutiveFailures > 0) {
            throw new DrError({
              code: 'backup.daemon-failing',
              message: r.gaveUp ? `the last ${r.consecutiveFailures} backup run(s) in a row failed; giving up` : 'stopped right after a failed backup run',
              hint: 'the errors are above; fix the store or the cluster, then start the daemon again (`dr backup now` tries one run)',
            })
          }
          return 0
        })
      }),
    )
}
