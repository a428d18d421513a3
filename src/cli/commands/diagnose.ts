// `dr diagnose [--out FILE.tar.gz]`: collect a redacted diagnostic bundle from every host and the cluster.
import type { Command } from 'commander'
import fsp from 'node:fs/promises'
import { formatBytes } from '../../core/output.ts'
import { action } from '../run.ts'

export function registerDiagnose(program: Command) {
  program
    .command('diagnose')
    .description('collect a diagnostic bundle (ps, inspect, logs, kubelet, dmesg, iptables, df, free, time; etcd, Nodes, pods, events), secrets redacted')
    .option('--out <file>', 'the bundle to write', `dr-diagnose-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}.tar.gz`)
    .option('--tail <lines>', 'log lines per container', '200')
    .addHelpText('after', `
Private keys, tokens, passwords and Secret values are replaced by [REDACTED] before anything is written;
manifest.json in the bundle lists every item, its size, how many values were redacted, and what could not be
collected (and why).

Examples:
  dr diagnose --out /tmp/cluster.tar.gz
  dr diagnose --json          # the manifest on stdout`)
    .action(
      action(async (ctx, _args, opts) => {
        const { collectBundle, writeTarball } = await import('../../diagnose/bundle.ts')
        const inv = await ctx.inventory()
        const { Connections } = await import('../../transport/connect.ts')
        const conns = new Connections(inv, { out: ctx.out })
        let dir: string | undefined
        try {
          const r = await collectBundle(inv, conns, { tail: Number(opts.tail) || 200, out: ctx.out })
          dir = r.dir
          await writeTarball(r.dir, opts.out)
          const failed = r.manifest.items.filter((i) => !i.ok)
          const size = (await fsp.stat(opts.out)).size
          if (ctx.opts.json) return ctx.out.data({ out: opts.out, bytes: size, manifest: r.manifest })
          ctx.out.line(`wrote ${opts.out} (${formatBytes(size)}): ${r.manifest.items.length - failed.length} items, ${r.manifest.items.reduce((n, i) => n + i.redacted, 0)} values redacted`)
          for (const f of failed) ctx.out.line(`  not collected: ${f.path} (${f.what}): ${f.error}`)
        } finally {
          await conns.close()
          if (dir) await fsp.rm(dir, { recursive: true, force: true })
        }
      }),
    )
}
