// Running a drill's activities: dr itself as a child process (the operator's commands, unchanged), the lab's
// faults through `dr lab …`, and the few faults that need a host (wipe etcd's data, stop a control plane) over
// the inventory's own transport. Each returns what it ran, how it ended and what it printed.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { disableRestart } from '../component/container.ts'
import { DrError } from '../core/error.ts'
import type { Output } from '../core/output.ts'
import type { Inventory } from '../inventory/types.ts'
import { hostsInSite } from '../inventory/types.ts'
import type { TransportSource } from '../etcd/client.ts'
import { readJournal } from '../runbook/journal.ts'
import type { Action, ActivityRecord } from './types.ts'
import { moveLeaderTo, waitForStatus } from './cluster-ops.ts'
import { drCommand, runDr } from './dr-child.ts'

export interface ActionContext {
  inv: Inventory
  conns: TransportSource
  out: Output
  /** The lab's name when the inventory is a lab, else undefined. */
  lab?: string
  drillId: string
  /** The drill's start (Date.now()). */
  t0: number
}

export interface ActionResult {
  ok: boolean
  command?: string
  exitCode?: number | null
  output?: string
  error?: string
  steps?: ActivityRecord['steps']
}

const tail = (s: string, n = 6000) => (s.length > n ? `…${s.slice(-n)}` : s)

/** Every journal file with its modification time: what a child wrote is what changed after it ran. */
export function journalFiles(inv: Inventory): Map<string, number> {
  const dir = path.join(inv.stateDir, 'journal')
  if (!fs.existsSync(dir)) return new Map()
  return new Map(fs.readdirSync(dir).filter((f) => f.endsWith('.jsonl')).map((f) => path.join(dir, f)).map((f) => [f, fs.statSync(f).mtimeMs]))
}

/**
 * Runbook steps from the journals a child wrote while it ran (relative to the drill's start): the files that are
 * new or changed since `before` (a time window would also catch the previous child's journal, written just before).
 */
export function childSteps(inv: Inventory, before: Map<string, number>, t0: number): ActivityRecord['steps'] {
  const files = [...journalFiles(inv)].filter(([f, mtime]) => before.get(f) !== mtime).map(([f]) => f)
  const steps: NonNullable<ActivityRecord['steps']> = []
  for (const f of files) {
    const recs = readJournal(f)
    const titles = new Map<string, string>()
    for (const r of recs) if (r.event === 'plan') for (const s of (r.plan as { steps: { id: string; title: string }[] }).steps) titles.set(s.id, s.title)
    const begun = new Map<string, number>()
    for (const r of recs) {
      const at = Date.parse(r.time) - t0
      if (r.event === 'step-start' && r.step) begun.set(r.step, at)
      if (r.event === 'step-end' && r.step && r.status !== 'nothing-to-do') {
        const start = begun.get(r.step) ?? at - (r.durationMs ?? 0)
        steps.push({ id: r.step, title: titles.get(r.step) ?? r.step, outcome: String(r.status), start, durationMs: at - start })
      }
    }
  }
  return steps.length ? steps.sort((a, b) => a.start - b.start) : undefined
}

async function dr(ctx: ActionContext, args: string[], env: NodeJS.ProcessEnv = {}): Promise<ActionResult> {
  const full = [...args, '-i', ctx.inv.file]
  const before = journalFiles(ctx.inv)
  const r = await runDr(full, ctx.out, env)
  return {
    ok: r.code === 0,
    command: drCommand(full),
    exitCode: r.code,
    output: tail([r.stdout.trim(), r.stderr.trim()].filter(Boolean).join('\n--- stderr ---\n')),
    error: r.code === 0 ? undefined : lastError(r.stderr) ?? `exit ${r.code}`,
    steps: childSteps(ctx.inv, before, ctx.t0),
  }
}

const lastError = (stderr: string) => stderr.split('\n').reverse().find((l) => /^error(\[|:)/.test(l))

const needLab = (ctx: ActionContext, what: string): string => {
  if (ctx.lab) return ctx.lab
  throw new DrError({ code: 'drill.lab-only', message: `${what} is a lab fault: a real inventory cannot inject it`, hint: 'run this scenario on the lab (dr lab up)', exit: 'usage' })
}

/** A site's etcd and apiserver stopped over SSH (restart policy off): a real inventory's "site lost". */
async function controlPlane(ctx: ActionContext, hosts: string[], up: boolean): Promise<ActionResult> {
  const names = [ctx.inv.etcd.container, ctx.inv.kubernetes.apiserverContainer]
  const done: string[] = []
  for (const h of hosts) {
    const t = await ctx.conns.get(h)
    if (up) await t.$`docker update --restart=always ${names} && docker start ${names}`
    else {
      await disableRestart(t, names)
      await t.$`docker stop ${names}`
    }
    done.push(h)
  }
  return { ok: true, command: `docker ${up ? 'start' : 'stop'} ${names.join(' ')} on ${hosts.join(', ')}`, output: `${up ? 'started' : 'stopped'} on ${done.join(', ')}` }
}

const etcdAndControlplane = (inv: Inventory, site: string) =>
  hostsInSite(inv, site).filter((h) => h.roles.includes('etcd') || h.roles.includes('controlplane')).map((h) => h.name)

async function labNode(ctx: ActionContext, host: string, up: boolean): Promise<ActionResult> {
  needLab(ctx, up ? 'starting one host' : 'killing one host')
  const container = ctx.inv.hosts[host]?.labels['dr.lab/container']
  if (!container) throw new DrError({ code: 'drill.no-container', message: `host ${host} has no dr.lab/container label`, exit: 'usage' })
  const args = up ? ['start', container] : ['kill', container]
  const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const c = spawn('docker', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    c.stdout.on('data', (d) => (out += d))
    c.stderr.on('data', (d) => (out += d))
    c.on('close', (code) => resolve({ code, out }))
  })
  if (up && r.code === 0) {
    const { waitForNode } = await import('../lab/nodes.ts')
    const h = ctx.inv.hosts[host]
    await waitForNode({ name: host, site: h.site, roles: h.roles, ip: h.address, container })
  }
  return { ok: r.code === 0, command: `docker ${args.join(' ')}`, exitCode: r.code, output: r.out.trim() }
}

/** Every member's data gone: etcd stopped (restart policy off) and its member dir moved aside, never deleted. */
async function wipeEtcd(ctx: ActionContext, hosts: string[]): Promise<ActionResult> {
  const c = ctx.inv.etcd.container
  const data = ctx.inv.etcd.dataDir.replace(/\/+$/, '')
  const aside = `${data}.dr-drill-wiped-${ctx.drillId}`
  const lines: string[] = []
  await Promise.all(
    hosts.map(async (h) => {
      const t = await ctx.conns.get(h)
      await disableRestart(t, c)
      await t.$`docker stop -t 5 ${c} >/dev/null`
      await t.$`mkdir -p ${aside} && if [ -d ${data}/member ]; then mv ${data}/member ${aside}/; fi`
      lines.push(`${h}: etcd stopped, ${data}/member moved to ${aside}`)
    }),
  )
  return { ok: true, command: `docker stop ${c}; mv ${data}/member ${aside}/ (on ${hosts.join(', ')})`, output: lines.sort().join('\n') }
}

/** Put wiped members back where etcd is not running (the recovery failed): the old member dir, etcd started. */
async function unwipeEtcd(ctx: ActionContext, hosts: string[]): Promise<ActionResult> {
  const c = ctx.inv.etcd.container
  const data = ctx.inv.etcd.dataDir.replace(/\/+$/, '')
  const aside = `${data}.dr-drill-wiped-${ctx.drillId}`
  const lines: string[] = []
  for (const h of hosts) {
    const t = await ctx.conns.get(h)
    const running = (await t.$`docker inspect -f {{.State.Running}} ${c}`.nothrow()).stdout.trim() === 'true'
    if (running || !(await t.$`test -d ${aside}/member`.nothrow()).ok) {
      lines.push(`${h}: ${running ? 'etcd runs' : 'nothing moved aside'}, left alone`)
      continue
    }
    await t.$`rm -rf ${data}/member.dr-drill-failed && if [ -d ${data}/member ]; then mv ${data}/member ${data}/member.dr-drill-failed; fi && mv ${aside}/member ${data}/member`
    await t.$`docker update --restart=always ${c} >/dev/null && docker start ${c} >/dev/null`
    lines.push(`${h}: ${aside}/member put back, etcd started`)
  }
  return { ok: true, command: `mv ${aside}/member ${data}/; docker start ${c} (where etcd is down)`, output: lines.join('\n') }
}

export async function runAction(ctx: ActionContext, a: Action, env: NodeJS.ProcessEnv = {}): Promise<ActionResult> {
  switch (a.kind) {
    case 'dr':
      return dr(ctx, a.args, env)
    case 'stop-site':
      return ctx.lab ? dr(ctx, ['lab', 'stop-site', a.site, '--name', ctx.lab]) : controlPlane(ctx, etcdAndControlplane(ctx.inv, a.site), false)
    case 'start-site':
      return ctx.lab ? dr(ctx, ['lab', 'start-site', a.site, '--name', ctx.lab]) : controlPlane(ctx, etcdAndControlplane(ctx.inv, a.site), true)
    case 'partition':
      return dr(ctx, ['lab', 'partition', a.sites[0], a.sites[1], '--name', needLab(ctx, 'a partition')])
    case 'heal':
      return dr(ctx, ['lab', 'heal', '--name', needLab(ctx, 'healing a partition')])
    case 'kill-host':
      return ctx.lab ? labNode(ctx, a.host, false) : controlPlane(ctx, [a.host], false)
    case 'start-host':
      return ctx.lab ? labNode(ctx, a.host, true) : controlPlane(ctx, [a.host], true)
    case 'wipe-etcd':
      return wipeEtcd(ctx, a.hosts)
    case 'unwipe-etcd':
      return unwipeEtcd(ctx, a.hosts)
    case 'lead-from': {
      const line = await moveLeaderTo(ctx.conns, ctx.inv, a.site)
      return { ok: true, command: `etcdctl move-leader (to a member of site ${a.site})`, output: line }
    }
    case 'expect-status': {
      const r = await waitForStatus(ctx, a.expect, a.timeoutMs)
      return { ok: r.ok, command: drCommand(['status', '--json', '-i', ctx.inv.file]), exitCode: r.code, output: r.detail, error: r.ok ? undefined : r.detail }
    }
    case 'sleep':
      await new Promise((r) => setTimeout(r, a.ms))
      return { ok: true, output: `waited ${a.ms} ms` }
  }
}
