// Out-of-band fencing (STONITH, Pacemaker's rule "no recovery without fencing"): run a host's fence agent from
// this machine — power off, power on, and read the power status — and confirm "off" before anything relies on it.
import { DrError, relevantLines } from '../core/error.ts'
import type { FenceAgent, Host } from '../inventory/types.ts'
import { runLocal } from '../transport/local.ts'

export type PowerState = 'off' | 'on'

/** Fill `{host}`, `{address}`, `{site}` and the agent's vars into each argument (pure). */
export function expandFence(argv: string[], host: Pick<Host, 'name' | 'address' | 'site'>, vars: Record<string, string>): string[] {
  const values: Record<string, string> = { ...vars, host: host.name, address: host.address, site: host.site }
  return argv.map((a) => a.replace(/\{([A-Za-z_][\w-]*)\}/g, (m, k: string) => values[k] ?? m))
}

/** What a status command's output says (pure): off when it matches the agent's offPattern. */
export const powerFromStatus = (stdout: string, agent: Pick<FenceAgent, 'offPattern'>): PowerState => (new RegExp(agent.offPattern, 'i').test(stdout) ? 'off' : 'on')

export const hasFenceAgent = (h: Host): h is Host & { fence: FenceAgent } => !!h.fence

async function runAgent(h: Host & { fence: FenceAgent }, which: 'off' | 'on' | 'status') {
  const tmpl = which === 'status' ? h.fence.status : which === 'off' ? h.fence.off : h.fence.on
  if (!tmpl) {
    throw new DrError({ code: 'fence.no-on-command', message: `the fence agent of ${h.name} has no \`on\` command`, host: h.name, hint: `add fence.on to ${h.name} or its site in the inventory`, exit: 'usage' })
  }
  const argv = expandFence(tmpl, h, h.fence.vars)
  const r = await runLocal(argv, { timeoutMs: h.fence.timeoutMs, host: 'local' })
  if (!r.ok) {
    throw new DrError({
      code: `fence.agent-${which}-failed`,
      message: `the fence agent could not ${which === 'status' ? 'read the power status of' : `power ${which}`} ${h.name}: ${argv[0]} ${r.signal === 'TIMEOUT' ? `timed out after ${h.fence.timeoutMs} ms` : `exited ${r.exitCode}`}`,
      host: h.name,
      doing: `run the fence agent (${which}) on this machine`,
      command: argv.join(' '),
      exitStatus: r.exitCode,
      stderr: relevantLines(r.stderr || r.stdout),
      hint: `run the command by hand to see what the power controller says; check fence.${which === 'status' ? 'status' : which} of ${h.name} (or its site) in the inventory`,
    })
  }
  return { argv, stdout: r.stdout }
}

export async function powerStatus(h: Host & { fence: FenceAgent }): Promise<PowerState> {
  return powerFromStatus((await runAgent(h, 'status')).stdout, h.fence)
}

/** Power the host off or on, then poll its status until it says so (at most the agent's timeout). */
export async function setPower(h: Host & { fence: FenceAgent }, want: PowerState): Promise<{ command: string; ms: number }> {
  const started = Date.now()
  const { argv } = await runAgent(h, want)
  let last: PowerState = want === 'off' ? 'on' : 'off'
  while (Date.now() - started < h.fence.timeoutMs) {
    last = await powerStatus(h)
    if (last === want) return { command: argv.join(' '), ms: Date.now() - started }
    await new Promise((r) => setTimeout(r, 1000))
  }
  throw new DrError({
    code: 'fence.power-unconfirmed',
    message: `${h.name} still reports power ${last} ${Math.round(h.fence.timeoutMs / 1000)} s after \`${argv.join(' ')}\``,
    host: h.name,
    hint: `check the power controller of ${h.name} by hand; until it is confirmed ${want}, treat the host as ${last}`,
  })
}

/** The command the agent would run, for plans. */
export const fenceCommand = (h: Host & { fence: FenceAgent }, which: 'off' | 'on' | 'status') => {
  const t = which === 'status' ? h.fence.status : which === 'off' ? h.fence.off : (h.fence.on ?? [])
  return expandFence(t, h, h.fence.vars).join(' ')
}
