// `fence:` in an inventory, per site or per host: an out-of-band fence agent (STONITH) — command templates that
// power a host off, on, and report its power, run on the operator's machine (ipmitool, virsh, a cloud CLI).
// A host's own `fence:` fields win over its site's; `vars` are merged. Pure: parsing and the rule.
import type { RawFence, RawInventory } from './schema.ts'
import type { FenceAgent } from './types.ts'
import { error, type Problem } from './problems.ts'

export const DEFAULT_OFF_PATTERN = '\\boff\\b'
export const DEFAULT_FENCE_TIMEOUT_MS = 60_000
/** Placeholders every template may use; `vars` add their own names. */
export const FENCE_PLACEHOLDERS = ['host', 'address', 'site'] as const

/** A template as argv: a string is split on blanks (no shell is involved, so nothing is interpreted). */
export const templateArgv = (t: string | string[]): string[] => (Array.isArray(t) ? [...t] : t.trim().split(/\s+/))

function merged(site: RawFence | undefined, host: RawFence | undefined): RawFence | undefined {
  if (!site && !host) return undefined
  return { ...(site ?? {}), ...(host ?? {}), vars: { ...(site?.vars ?? {}), ...(host?.vars ?? {}) } }
}

/** The agent for a host, or undefined when neither it nor its site has one (assumes the rule found no errors). */
export function mergeFence(site: RawFence | undefined, host: RawFence | undefined): FenceAgent | undefined {
  const f = merged(site, host)
  if (!f?.off || !f.status) return undefined
  return {
    off: templateArgv(f.off),
    on: f.on ? templateArgv(f.on) : undefined,
    status: templateArgv(f.status),
    offPattern: f.offPattern ?? DEFAULT_OFF_PATTERN,
    vars: Object.fromEntries(Object.entries(f.vars ?? {}).map(([k, v]) => [k, String(v)])),
    timeoutMs: f.timeoutMs ?? DEFAULT_FENCE_TIMEOUT_MS,
  }
}

/** Every `{name}` a template uses. */
export const placeholdersIn = (argv: string[]) => [...new Set(argv.flatMap((a) => [...a.matchAll(/\{([A-Za-z_][\w-]*)\}/g)].map((m) => m[1])))]

/** Rule: each host with a fence agent (its own or its site's) has off and status, known placeholders, a valid pattern. */
export function fenceAgents(inv: RawInventory): Problem[] {
  const out: Problem[] = []
  const siteOf = new Map<string, string>()
  for (const [s, v] of Object.entries(inv.sites ?? {})) for (const h of v?.hosts ?? []) siteOf.set(h, s)
  const seen = new Set<string>()
  for (const [name, h] of Object.entries(inv.hosts ?? {})) {
    const site = siteOf.get(name)
    const siteFence = site ? inv.sites?.[site]?.fence : undefined
    const f = merged(siteFence, h?.fence ?? undefined)
    if (!f) continue
    // Report a site's problem once, at the site; a host's own problem at the host.
    const where = h?.fence ? ['hosts', name, 'fence'] : ['sites', site as string, 'fence']
    const key = where.join('.')
    const whose = h?.fence ? `host ${name}` : `site ${site}`
    for (const field of ['off', 'status'] as const) {
      if (!f[field] && !seen.has(`${key}.${field}`)) {
        seen.add(`${key}.${field}`)
        out.push(error(where, `the fence agent of ${whose} has no \`${field}\` command`, `add \`${field}:\` (e.g. ${field === 'off' ? '"ipmitool -I lanplus -H {bmc} -U admin -E chassis power off"' : '"ipmitool -I lanplus -H {bmc} -U admin -E chassis power status"'}); dr runs it on this machine`))
      }
    }
    const known = new Set<string>([...FENCE_PLACEHOLDERS, ...Object.keys(f.vars ?? {})])
    for (const field of ['off', 'on', 'status'] as const) {
      const t = f[field]
      if (!t) continue
      const argv = templateArgv(t)
      if (argv.length === 0 || argv[0] === '') {
        if (!seen.has(`${key}.${field}.empty`)) out.push(error([...where, field], `the fence ${field} command of ${whose} is empty`, 'give the program and its arguments'))
        seen.add(`${key}.${field}.empty`)
        continue
      }
      for (const p of placeholdersIn(argv).filter((x) => !known.has(x))) {
        const id = `${name}.${field}.${p}`
        if (seen.has(id)) continue
        seen.add(id)
        out.push(error([...where, field], `the fence ${field} command of host ${name} uses {${p}}, which is not defined`, `placeholders are {host}, {address}, {site} and the names under fence.vars (add \`vars: { ${p}: … }\` to hosts.${name}.fence or its site's fence)`))
      }
    }
    if (f.offPattern && !seen.has(`${key}.offPattern`)) {
      try {
        new RegExp(f.offPattern, 'i')
      } catch (e) {
        seen.add(`${key}.offPattern`)
        out.push(error([...where, 'offPattern'], `offPattern is not a regular expression: ${(e as Error).message}`, 'e.g. offPattern: "is off"'))
      }
    }
  }
  return out
}
