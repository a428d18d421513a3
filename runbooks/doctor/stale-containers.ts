// Seed 002: remove the exited containers of a static pod that hold the name the kubelet needs — only those,
// by ID, and with `docker rm` without -f, so a running container can never be removed by mistake.
import { DrError } from '../../src/core/error.ts'
import type { Step } from '../../src/runbook/types.ts'
import type { Diagnosis } from '../../src/doctor/types.ts'

export function staleContainerSteps<F extends { diagnoses: Diagnosis[] }>(facts: F): Step<F>[] {
  return facts.diagnoses
    .filter((d) => d.id === 'stale-container')
    .map((d, i) => {
      const { ids, names } = d.data as { ids: string[]; names: string[] }
      const still = async (t: { exec: (c: string, o: object) => Promise<{ stdout: string }> }) => {
        const r = await t.exec(`docker ps -a --no-trunc --filter status=exited --filter status=created --filter status=dead --format '{{.ID}}'`, { nothrow: true })
        const present = new Set(r.stdout.split('\n').filter(Boolean))
        return ids.filter((id) => present.has(id))
      }
      return {
        id: `remove-stale-containers-${d.subject}-${i + 1}`,
        title: `Remove the stale exited containers on ${d.subject} (${names.length})`,
        host: d.subject,
        destructive: true,
        async check(ctx) {
          const left = await still(await ctx.conns.get(d.subject))
          return left.map((id) => ({ host: d.subject, destructive: true, summary: `docker rm ${id.slice(0, 12)} (${names[ids.indexOf(id)]}, exited)`, command: `docker rm ${id}` }))
        },
        async apply(ctx) {
          const t = await ctx.conns.get(d.subject)
          const left = await still(t)
          if (left.length) await t.$`docker rm ${left}`
        },
        async verify(ctx) {
          const left = await still(await ctx.conns.get(d.subject))
          if (left.length) throw new DrError({ code: 'step.unverified', message: `still there: ${left.join(', ')}`, host: d.subject, exit: 'unverified' })
          return `removed ${ids.length}; the kubelet creates the next container on its own`
        },
      }
    })
}
