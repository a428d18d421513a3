// ip-drift on docker-run nodes (seeds 000/001): put each node container back on the address the cluster knows
// and pin it there, as seed 001's kind_static_ips.sh does (docker network disconnect, connect --ip), so the next
// docker restart keeps it. First every drifted node lets go of its address (one may hold another's), then each
// is pinned; then etcd must answer a quorum read through every member.
import { DrError } from '../../src/core/error.ts'
import { runLocal } from '../../src/transport/local.ts'
import { probeCluster } from '../../src/etcd/status.ts'
import type { Step } from '../../src/runbook/types.ts'
import type { Diagnosis } from '../../src/doctor/types.ts'
import { localContainerView } from '../../src/doctor/collect.ts'

interface Drift {
  host: string
  container: string
  network: string
  ip: string
}

const drifts = (ds: Diagnosis[]): Drift[] =>
  ds.filter((d) => d.id === 'ip-drift').map((d) => ({ host: d.subject, ...(d.data as { container: string; network: string; ip: string }) }))

async function docker(args: string[], doing: string, host: string) {
  const r = await runLocal(['docker', ...args], { timeoutMs: 60_000 })
  if (!r.ok) throw new DrError({ code: 'doctor.docker-failed', message: `docker ${args[0]} ${args[1] ?? ''} failed`, host, doing, command: r.command, stderr: r.stderr })
  return r
}

async function view(d: Drift, etcd: string) {
  return localContainerView(d.host, d.container, etcd)
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export function pinAddressSteps<F extends { diagnoses: Diagnosis[] }>(facts: F): Step<F>[] {
  const ds = drifts(facts.diagnoses)
  if (!ds.length) return []
  const release: Step<F> = {
    id: 'release-drifted-addresses',
    title: `Disconnect the drifted node containers from their network (${ds.map((d) => d.container).join(', ')})`,
    destructive: true,
    async check(ctx) {
      const out = []
      for (const d of ds) {
        const v = await view(d, ctx.inv.etcd.container)
        if (v && v.ip && v.ip !== d.ip) out.push({ host: d.host, destructive: true, summary: `disconnect ${d.container} from ${d.network} (now at ${v.ip}; it goes back to ${d.ip})`, command: `docker network disconnect ${d.network} ${d.container}` })
      }
      return out
    },
    async apply(_ctx, changes) {
      for (const d of ds) if (changes.some((c) => c.host === d.host)) await docker(['network', 'disconnect', d.network, d.container], `release ${d.ip}`, d.host)
    },
    async verify(ctx) {
      for (const d of ds) {
        const v = await view(d, ctx.inv.etcd.container)
        if (v?.ip && v.ip !== d.ip) throw new DrError({ code: 'step.unverified', message: `${d.container} is still at ${v.ip}`, host: d.host, exit: 'unverified' })
      }
      return `${ds.length} container(s) released`
    },
  }
  const pins: Step<F>[] = ds.map((d) => ({
    id: `pin-address-${d.host}`,
    title: `Connect ${d.container} to ${d.network} at ${d.ip}, pinned`,
    host: d.host,
    async check(ctx) {
      const v = await view(d, ctx.inv.etcd.container)
      if (v?.ip === d.ip && v.pinnedIp === d.ip) return []
      return [{ host: d.host, summary: `connect ${d.container} to ${d.network} with the fixed address ${d.ip}`, command: `docker network connect --ip ${d.ip} ${d.network} ${d.container}` }]
    },
    async apply(ctx) {
      const v = await view(d, ctx.inv.etcd.container)
      if (v?.ip && v.ip !== d.ip) await docker(['network', 'disconnect', d.network, d.container], `release ${v.ip}`, d.host)
      await docker(['network', 'connect', '--ip', d.ip, d.network, d.container], `pin ${d.ip}`, d.host)
    },
    async verify(ctx) {
      const v = await view(d, ctx.inv.etcd.container)
      if (v?.ip !== d.ip || v.pinnedIp !== d.ip) throw new DrError({ code: 'step.unverified', message: `${d.container} is at ${v?.ip ?? 'no address'} (pinned: ${v?.pinnedIp ?? 'no'})`, host: d.host, exit: 'unverified' })
      return `docker inspect: IPAddress=${v.ip}, IPAMConfig.IPv4Address=${v.pinnedIp}`
    },
  }))
  const quorum: Step<F> = {
    id: 'wait-etcd-members',
    title: 'Wait until etcd answers a quorum read through every member',
    async check(ctx) {
      const s = await probeCluster(ctx.conns, ctx.inv, { timeoutMs: 3000 })
      const bad = s.members.filter((m) => !m.quorumRead)
      return bad.length ? [{ summary: `wait for ${bad.map((m) => m.host).join(', ')} (peers reconnect on their own once the addresses are back)` }] : []
    },
    async apply(ctx) {
      const until = Date.now() + 120_000
      while (Date.now() < until) {
        const s = await probeCluster(ctx.conns, ctx.inv, { timeoutMs: 3000 })
        if (s.members.every((m) => m.quorumRead)) return
        await sleep(2000)
      }
    },
    async verify(ctx) {
      const s = await probeCluster(ctx.conns, ctx.inv, { timeoutMs: 5000 })
      const bad = s.members.filter((m) => !m.quorumRead)
      if (bad.length) throw new DrError({ code: 'step.unverified', message: `no quorum read through ${bad.map((m) => `${m.host} (${m.error ?? m.errors.join('; ')})`).join(', ')}`, exit: 'unverified', hint: 'docker logs --tail 50 etcd on those hosts' })
      return `quorum read through ${s.members.map((m) => m.host).join(', ')}`
    },
  }
  return [release, ...pins, quorum]
}
