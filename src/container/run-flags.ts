// The flag values of `docker run` that have their own small syntax: --mount (CSV), --publish.
import type { Mount, PortBinding } from './inspect.ts'

export const shortId = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12)

/** One CSV field as Go's encoding/csv reads it (the CLI parses --mount with it): quoted when it must be. */
function csvField(f: string): string {
  return /[",\r\n]/.test(f) || /^\s|\s$/.test(f) ? `"${f.replace(/"/g, '""')}"` : f
}

/** HostConfig.Mounts entry → the value of one --mount flag. */
export function mountSpec(m: Mount): string {
  const f: string[] = [`type=${m.Type ?? 'volume'}`]
  if (m.Source) f.push(`source=${m.Source}`)
  f.push(`target=${m.Target ?? ''}`)
  if (m.ReadOnly) f.push('readonly')
  if (m.Consistency) f.push(`consistency=${m.Consistency}`)
  if (m.BindOptions?.Propagation) f.push(`bind-propagation=${m.BindOptions.Propagation}`)
  if (m.BindOptions?.NonRecursive) f.push('bind-nonrecursive')
  const v = m.VolumeOptions
  if (v?.NoCopy) f.push('volume-nocopy')
  for (const [k, val] of Object.entries(v?.Labels ?? {})) f.push(`volume-label=${k}=${val}`)
  if (v?.DriverConfig?.Name) f.push(`volume-driver=${v.DriverConfig.Name}`)
  for (const [k, val] of Object.entries(v?.DriverConfig?.Options ?? {})) f.push(`volume-opt=${k}=${val}`)
  const t = m.TmpfsOptions
  if (t?.SizeBytes) f.push(`tmpfs-size=${t.SizeBytes}`)
  if (t?.Mode) f.push(`tmpfs-mode=${t.Mode.toString(8)}`)
  return f.map(csvField).join(',')
}

/** HostConfig.PortBindings → the values of --publish, host IP and protocol kept. */
export function portSpecs(bindings: Record<string, PortBinding[] | null> | null | undefined): string[] {
  const out: string[] = []
  for (const [port, list] of Object.entries(bindings ?? {})) {
    for (const b of list ?? [{}]) {
      const ip = b.HostIp ? (b.HostIp.includes(':') ? `[${b.HostIp}]` : b.HostIp) : ''
      if (ip) out.push(`${ip}:${b.HostPort ?? ''}:${port}`)
      else if (b.HostPort) out.push(`${b.HostPort}:${port}`)
      else out.push(port)
    }
  }
  return out
}
