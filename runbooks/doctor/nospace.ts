// The NOSPACE alarm: compact the history to the current revision, defragment every member (one at a time: a
// member blocks while it defragments), disarm the alarm, and prove a write. Each check reads the alarm list, so
// a re-run after the fix plans nothing.
import { AlarmAction, AlarmType } from 'etcd3'
import { DrError } from '../../src/core/error.ts'
import { connectMember, type MemberConnection, type TransportSource } from '../../src/etcd/client.ts'
import { probeCluster } from '../../src/etcd/status.ts'
import { proveWrite } from '../../src/etcd/ops.ts'
import type { Inventory } from '../../src/inventory/types.ts'
import type { Step, StepContext } from '../../src/runbook/types.ts'
import type { Diagnosis } from '../../src/doctor/types.ts'

async function withMember<T>(conns: TransportSource, inv: Inventory, fn: (m: MemberConnection) => Promise<T>, host?: string): Promise<T> {
  let via = host
  if (!via) {
    const s = await probeCluster(conns, inv, { timeoutMs: 3000 })
    via = s.members.find((m) => m.quorumRead)?.host
    if (!via) throw new DrError({ code: 'doctor.no-quorum', message: 'no etcd member answers a quorum read', hint: 'dr doctor (quorum first)' })
  }
  const m = await connectMember(conns, inv, via, { callTimeoutMs: 60_000 })
  try {
    return await fn(m)
  } finally {
    await m.close()
  }
}

const alarms = (ctx: StepContext<unknown>) =>
  withMember(ctx.conns, ctx.inv, async (m) => (await m.client.maintenance.alarm({ action: AlarmAction.Get })).alarms)

const nospaceRaised = async (ctx: StepContext<unknown>) => (await alarms(ctx)).some((a) => String(a.alarm).toLowerCase() === 'nospace')

export function nospaceSteps<F extends { diagnoses: Diagnosis[] }>(facts: F, etcdHosts: string[]): Step<F>[] {
  if (!facts.diagnoses.some((d) => d.id === 'nospace')) return []
  const ifRaised = (summary: string, host?: string) => async (ctx: StepContext<F>) => ((await nospaceRaised(ctx as StepContext<unknown>)) ? [{ summary, host }] : [])
  let revision = ''
  const compact: Step<F> = {
    id: 'nospace-compact',
    title: 'Compact etcd history to the current revision',
    check: ifRaised('compact every revision older than the current one (etcdctl compact <rev> --physical)'),
    async apply(ctx) {
      await withMember(ctx.conns, ctx.inv, async (m) => {
        const s = await m.client.maintenance.status()
        revision = s.header.revision
        await m.client.kv.compact({ revision: s.header.revision, physical: true }).catch((e: Error) => {
          if (!/required revision has been compacted/.test(e.message)) throw e // already compacted there: nothing lost
        })
      })
    },
    async verify() {
      return `compacted at revision ${revision}`
    },
  }
  const defrags: Step<F>[] = etcdHosts.map((name) => {
    const h = { name }
    let sizes = ''
    return {
      id: `nospace-defragment-${h.name}`,
      title: `Defragment the etcd member on ${h.name}`,
      host: h.name,
      check: ifRaised(`defragment ${h.name}'s backend (etcdctl defrag); the member pauses while it runs`, h.name),
      async apply(ctx) {
        await withMember(ctx.conns, ctx.inv, async (m) => {
          const before = Number((await m.client.maintenance.status()).dbSize)
          await m.client.maintenance.defragment()
          const after = Number((await m.client.maintenance.status()).dbSize)
          sizes = `DB ${(before / 1e6).toFixed(1)} MB → ${(after / 1e6).toFixed(1)} MB`
        }, h.name)
      },
      async verify() {
        return sizes
      },
    }
  })
  const disarm: Step<F> = {
    id: 'nospace-disarm',
    title: 'Disarm the NOSPACE alarm and prove a write',
    check: ifRaised('etcdctl alarm disarm; then a test write on a 30 s lease'),
    async apply(ctx) {
      await withMember(ctx.conns, ctx.inv, async (m) => {
        const list = (await m.client.maintenance.alarm({ action: AlarmAction.Get })).alarms
        for (const a of list.filter((x) => String(x.alarm).toLowerCase() === 'nospace')) {
          await m.client.maintenance.alarm({ action: AlarmAction.Deactivate, memberID: a.memberID, alarm: AlarmType.Nospace })
        }
      })
    },
    async verify(ctx) {
      const left = await alarms(ctx as StepContext<unknown>)
      if (left.length) throw new DrError({ code: 'step.unverified', message: `alarms still raised: ${left.map((a) => a.alarm).join(', ')}`, exit: 'unverified', hint: 'the DB may still be above its quota: raise --quota-backend-bytes' })
      await withMember(ctx.conns, ctx.inv, (m) => proveWrite(m.client, 'doctor-nospace'))
      return 'no alarms; a write succeeded'
    },
  }
  return [compact, ...defrags, disarm]
}
