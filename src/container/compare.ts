// Compare two containers' `docker inspect` in every field `docker run` can set. What must differ between a
// container and its copy (identity, runtime state, values docker generates) is listed here, in one place.
import type { ContainerInspect } from './inspect.ts'
import { shortId } from './run-flags.ts'

/** Fields that legitimately differ between a container and its re-created copy, and why. */
export const IGNORED_FIELDS: Record<string, string> = {
  Id: 'identity',
  Created: 'identity',
  Name: 'identity (the copy may have another name)',
  State: 'runtime',
  RestartCount: 'runtime',
  ResolvConfPath: 'per-container file docker generates',
  HostnamePath: 'per-container file docker generates',
  HostsPath: 'per-container file docker generates',
  LogPath: 'per-container file docker generates',
  GraphDriver: 'per-container layer',
  SizeRw: 'runtime',
  SizeRootFs: 'runtime',
  ExecIDs: 'runtime',
  MountLabel: 'generated per container',
  ProcessLabel: 'generated per container',
  'Config.Hostname': 'compared only when set explicitly: a generated one is the container id',
  'Config.AttachStdin': 'how the creating client attached, not the container',
  'Config.AttachStdout': 'how the creating client attached, not the container',
  'Config.AttachStderr': 'how the creating client attached, not the container',
  'Config.StdinOnce': 'how the creating client attached, not the container',
  'HostConfig.ConsoleSize': 'the creating terminal size',
  'HostConfig.ContainerIDFile': 'a client-side file',
  NetworkSettings: 'runtime, except per network: IPAM config (static IPs), aliases (minus the short id docker adds), links, driver options',
  Mounts: 'compared without anonymous volumes\' generated names and paths',
}

type Json = unknown

function at(obj: Json, path: string): Json {
  return path.split('.').reduce<Json>((o, k) => (o && typeof o === 'object' ? (o as Record<string, Json>)[k] : undefined), obj)
}

/** Empty values docker stores differently depending on the client (null, [], {}, "", false, 0) are the same. */
function normalise(v: Json): Json {
  if (v === null || v === undefined || v === '' || v === false || v === 0) return undefined
  if (Array.isArray(v)) return v.length === 0 ? undefined : v.map(normalise)
  if (typeof v === 'object') {
    const out: Record<string, Json> = {}
    for (const k of Object.keys(v as object).sort()) {
      const n = normalise((v as Record<string, Json>)[k])
      if (n !== undefined) out[k] = n
    }
    return Object.keys(out).length === 0 ? undefined : out
  }
  return v
}

/** The comparable projection of an inspect: every settable field, nothing generated. */
export function comparable(c: ContainerInspect, opts: { unordered?: string[] } = {}): Record<string, Json> {
  const copy = JSON.parse(JSON.stringify(c)) as Record<string, Json>
  for (const f of Object.keys(IGNORED_FIELDS)) {
    const parts = f.split('.')
    const parent = parts.length === 1 ? copy : at(copy, parts.slice(0, -1).join('.'))
    if (parent && typeof parent === 'object') delete (parent as Record<string, Json>)[parts[parts.length - 1]]
  }
  const cfg = copy.Config as Record<string, Json>
  const hostname = c.Config.Hostname
  if (hostname && hostname !== shortId(c.Id)) cfg.Hostname = hostname
  const hc = copy.HostConfig as Record<string, Json>
  const rp = c.HostConfig.RestartPolicy
  hc.RestartPolicy = { Name: rp?.Name === 'no' ? '' : rp?.Name, MaximumRetryCount: rp?.MaximumRetryCount }
  // A link is stored with the container's own name in it ("/db:/me/alias"); what it means is db as alias.
  if (c.HostConfig.Links) hc.Links = c.HostConfig.Links.map(linkMeaning)
  for (const f of opts.unordered ?? []) {
    const v = at(copy, f)
    if (Array.isArray(v)) v.sort()
  }
  const networks: Record<string, Json> = {}
  for (const [name, ep] of Object.entries(c.NetworkSettings?.Networks ?? {})) {
    networks[name] = {
      IPAMConfig: ep.IPAMConfig,
      Aliases: (ep.Aliases ?? []).filter((a) => a !== shortId(c.Id)),
      Links: ep.Links?.map(linkMeaning),
      DriverOpts: ep.DriverOpts,
    }
  }
  copy.Networks = networks
  copy.Mounts = [...(c.Mounts ?? [])]
    .sort((a, b) => a.Destination.localeCompare(b.Destination))
    .map((m) => {
      const anonymous = m.Type === 'volume' && /^[0-9a-f]{64}$/.test(m.Name ?? '')
      return { Type: m.Type, Name: anonymous ? '(anonymous)' : m.Name, Source: m.Type === 'volume' ? undefined : m.Source, Destination: m.Destination, Driver: m.Driver, Mode: m.Mode, RW: m.RW, Propagation: m.Propagation }
    })
  return normalise(copy) as Record<string, Json>
}

const linkMeaning = (l: string): string => {
  const [target, alias] = l.split(':')
  return `${target.replace(/^\//, '')}:${(alias ?? target).split('/').pop()}`
}

/** Lists the docker CLI (28) builds from a map, so their order is not the user's: compare them as sets. */
export const CLI_UNORDERED = ['Config.Env', 'HostConfig.Binds']

export interface FieldDiff {
  path: string
  a: Json
  b: Json
}

/** Every field that differs between two containers, as dotted paths (empty: the same container config). */
export function diffContainers(a: ContainerInspect, b: ContainerInspect, opts: { ignore?: string[]; unordered?: string[] } = {}): FieldDiff[] {
  const out: FieldDiff[] = []
  const walk = (x: Json, y: Json, path: string) => {
    if (opts.ignore?.includes(path)) return
    if (x && y && typeof x === 'object' && typeof y === 'object' && !Array.isArray(x) && !Array.isArray(y)) {
      const keys = new Set([...Object.keys(x as object), ...Object.keys(y as object)])
      for (const k of [...keys].sort()) walk((x as Record<string, Json>)[k], (y as Record<string, Json>)[k], path ? `${path}.${k}` : k)
      return
    }
    if (JSON.stringify(x) !== JSON.stringify(y)) out.push({ path, a: x, b: y })
  }
  walk(comparable(a, opts), comparable(b, opts), '')
  return out
}
