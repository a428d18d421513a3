// The restore method: the safety snapshot becomes the data dir of a new one-member cluster with a fresh token, so
// a new cluster ID — old members can never merge back. The restored dir is swapped in only once complete, and the
// member it replaces is kept as <dataDir>.dr-replaced-<tag>.
import { createReadStream } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { connectMember } from '../../src/etcd/client.ts'
import { waitWritable } from '../../src/etcd/ops.ts'
import { getFlag } from '../../src/container/command-flags.ts'
import type { Step, StepContext } from '../../src/runbook/types.ts'
import { componentOf, reconfigureStep } from '../steps/containers.ts'
import { runtimeFor } from '../../src/component/index.ts'
import { decisionOf, survivorRunsAlone, unverified, type FailoverFacts } from './facts.ts'
import { rebuiltBefore } from './etcd-rebuild.ts'

const paths = (ctx: StepContext<FailoverFacts>) => {
  const { dataDir } = ctx.inv.etcd
  const tag = ctx.facts.decision.tag
  return { dataDir, snap: `${dataDir}.dr-snapshot-${tag}.db`, restored: `${dataDir}.dr-restored-${tag}`, replaced: `${dataDir}.dr-replaced-${tag}` }
}

export function restoreSteps(survivor: string): Step<FailoverFacts>[] {
  const restore: Step<FailoverFacts> = {
    id: 'restore-snapshot',
    title: `Restore the safety snapshot on ${survivor} into a new data dir (fresh token, new cluster ID)`,
    host: survivor,
    destructive: true,
    async check(ctx) {
      const t = await ctx.conns.get(survivor)
      const p = paths(ctx)
      if ((await t.$`test -d ${p.replaced}`.nothrow()).ok) return []
      return [
        {
          host: survivor,
          destructive: true,
          summary: `copy the safety snapshot to ${p.snap}, \`etcdctl snapshot restore\` it into ${p.restored} as ${ctx.facts.survivorName} with token ${ctx.facts.decision.token}, then swap it in for ${p.dataDir} (kept as ${p.replaced})`,
        },
      ]
    },
    async apply(ctx) {
      const t = await ctx.conns.get(survivor)
      const p = paths(ctx)
      const d = decisionOf(ctx)
      if (!d.snapshot) throw unverified('no safety snapshot recorded')
      await pipeline(createReadStream(d.snapshot.path), await t.createWriteStream(`${p.snap}.part`, { mode: 0o600 }))
      await t.$`mv ${`${p.snap}.part`} ${p.snap}`
      const s = await componentOf(ctx.inv, t, 'etcd').state()
      if (!s) throw unverified(`there is no etcd (container ${ctx.inv.etcd.container} or static pod) on ${survivor} to take the image from`)
      const f = ctx.facts
      const parent = p.dataDir.replace(/\/[^/]+\/?$/, '') || '/'
      // The image's own etcdctl, in a throwaway container: the host needs no etcd binaries.
      await t.$`rm -rf ${p.restored}`
      await runtimeFor(ctx.inv, survivor).runOnce(t, {
        image: s.image,
        env: { ETCDCTL_API: '3' },
        binds: [[parent, parent]],
        argv: ['etcdctl', 'snapshot', 'restore', p.snap, '--data-dir', p.restored, '--name', f.survivorName, '--initial-cluster', `${f.survivorName}=${f.survivorPeerUrl}`, '--initial-cluster-token', f.decision.token!, '--initial-advertise-peer-urls', f.survivorPeerUrl],
        doing: `restore the safety snapshot on ${survivor}`,
      })
      // Swapped in only when complete; a run killed between the two moves finds the restored dir still there.
      await t.$`if [ -d ${p.dataDir} ]; then mv ${p.dataDir} ${p.replaced}; else mkdir -p ${p.replaced}; fi && mv ${p.restored} ${p.dataDir}`
    },
    async verify(ctx) {
      const t = await ctx.conns.get(survivor)
      const p = paths(ctx)
      await t.$`test -d ${`${p.dataDir}/member`} && test -d ${p.replaced}`
      return `${p.dataDir} restored from the safety snapshot; the old member kept as ${p.replaced}`
    },
  }
  const start = reconfigureStep<FailoverFacts>({
    id: 'start-restored',
    title: `Re-create etcd on ${survivor} on the restored data as a new cluster`,
    host: survivor,
    component: 'etcd',
    edit: (f) => ({
      setArgs: {
        '--initial-cluster': `${f.survivorName}=${f.survivorPeerUrl}`,
        '--initial-cluster-token': f.decision.token!,
        '--initial-cluster-state': 'new',
      },
      removeArgs: ['--force-new-cluster'],
      restartPolicy: { Name: 'always' },
    }),
    async done(ctx, s) {
      if (rebuiltBefore(ctx, 'start-restored') || !s?.running) return false
      if (getFlag(s.argv, '--initial-cluster-token') !== ctx.facts.decision.token) return false
      return survivorRunsAlone(ctx)
    },
    async after(ctx) {
      const conn = await connectMember(ctx.conns, ctx.inv, survivor)
      try {
        const ms = await waitWritable(conn.client, `restored-${ctx.facts.decision.tag}`, 60_000, survivor)
        return `new cluster writable ${(ms / 1000).toFixed(1)} s after start`
      } finally {
        await conn.close()
      }
    },
  })
  return [restore, start]
}
