// docker inspect → the exact body of POST /containers/create (API 1.41). Unlike the CLI, the API takes the
// entrypoint and cmd as arrays, so a multi-element entrypoint (RKE's kube-apiserver) stays exactly as it was.
import { arr } from './entrypoint.ts'
import type { ContainerConfig, ContainerInspect, EndpointSettings, HostConfig, ImageInspect } from './inspect.ts'
import { imageRef } from './run-command.ts'
import { shortId } from './run-flags.ts'

export interface CreateRequest {
  body: ContainerConfig & { HostConfig: HostConfig; NetworkingConfig?: { EndpointsConfig: Record<string, EndpointConfig> } }
  /** Networks beyond the first: API 1.41 creates with one, the rest are connected before the start. */
  extraNetworks: Array<{ name: string; config: EndpointConfig }>
}

export type EndpointConfig = Pick<EndpointSettings, 'IPAMConfig' | 'Links' | 'Aliases' | 'DriverOpts'>

export interface CreateBodyOptions {
  /** Entrypoint and Cmd to use instead of the container's (after a flag edit). */
  process?: { Entrypoint: string[] | null; Cmd: string[] | null }
  restartPolicy?: { Name: string; MaximumRetryCount?: number }
  /** Anonymous volumes of the old container to mount by name in the new one, so their data carries over. */
  reuseVolumes?: Array<{ name: string; destination: string }>
}

/** Fields of an inspect's HostConfig that the create API must not get back. */
const HOST_CONFIG_DROP = ['ContainerIDFile', 'ConsoleSize'] as const

/** "/db:/me/alias" (how docker stores a link) → "db:alias" (how the API takes one). */
export const apiLink = (l: string): string => {
  const [target, alias] = l.split(':')
  return `${target.replace(/^\//, '')}:${(alias ?? target).split('/').pop()}`
}

export function createBody(inspect: ContainerInspect, image: ImageInspect | null, opts: CreateBodyOptions = {}): CreateRequest {
  const c = inspect.Config
  const h = inspect.HostConfig
  const net = h.NetworkMode ?? 'default'
  const proc = opts.process ?? { Entrypoint: c.Entrypoint ?? null, Cmd: c.Cmd ?? null }
  const config: ContainerConfig = {
    ...c,
    Image: imageRef(inspect, image),
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    StdinOnce: false,
    // A null entrypoint would inherit the image's; [""] resets it (what `--entrypoint ''` sends; stored as null).
    Entrypoint: arr(proc.Entrypoint).length === 0 && arr(image?.Config?.Entrypoint).length > 0 ? [''] : proc.Entrypoint,
    Cmd: proc.Cmd,
    // Ports and volumes the image declares are merged back by the engine; sent again, ports conflict with a
    // container: network mode ("port exposing and the container type network mode").
    ExposedPorts: without(c.ExposedPorts, image?.Config?.ExposedPorts),
    Volumes: without(c.Volumes, image?.Config?.Volumes),
  }
  // A generated hostname (the old short id) would pin the wrong one; container:/host UTS namespaces forbid one.
  if (c.Hostname === shortId(inspect.Id) || net.startsWith('container:') || h.UTSMode === 'host') delete config.Hostname
  const hostConfig: HostConfig = { ...h }
  for (const k of HOST_CONFIG_DROP) delete hostConfig[k]
  if (h.Links) hostConfig.Links = h.Links.map(apiLink)
  if (opts.restartPolicy) hostConfig.RestartPolicy = opts.restartPolicy
  if (opts.reuseVolumes?.length) hostConfig.Binds = [...(h.Binds ?? []), ...opts.reuseVolumes.map((v) => `${v.name}:${v.destination}`)]

  const primary = net === 'default' ? 'bridge' : net
  const endpoints: Record<string, EndpointConfig> = {}
  const extraNetworks: CreateRequest['extraNetworks'] = []
  for (const [name, ep] of Object.entries(inspect.NetworkSettings?.Networks ?? {})) {
    const cfg: EndpointConfig = {
      IPAMConfig: ep.IPAMConfig ?? null,
      Links: ep.Links ? ep.Links.map(apiLink) : null,
      // docker adds the container's short id as an alias on user networks; the new container gets its own.
      Aliases: (ep.Aliases ?? []).filter((a) => a !== shortId(inspect.Id)),
      DriverOpts: ep.DriverOpts ?? null,
    }
    if (name === primary || name === net) endpoints[name] = cfg
    else extraNetworks.push({ name, config: cfg })
  }
  const body: CreateRequest['body'] = { ...config, HostConfig: hostConfig }
  if (net !== 'default' && net !== 'bridge' && net !== 'host' && net !== 'none' && !net.startsWith('container:')) {
    body.NetworkingConfig = { EndpointsConfig: endpoints }
  }
  return { body, extraNetworks }
}

function without(a: Record<string, object> | null | undefined, b: Record<string, object> | null | undefined): Record<string, object> | null {
  const out = Object.fromEntries(Object.entries(a ?? {}).filter(([k]) => !(k in (b ?? {}))))
  return Object.keys(out).length > 0 ? out : null
}

/** The old container's own anonymous volumes (not binds, not named, not from --volumes-from). */
export function anonymousVolumes(inspect: ContainerInspect): Array<{ name: string; destination: string }> {
  const own = new Set(Object.keys(inspect.Config.Volumes ?? {}))
  // Already mounted by a bind or --mount (an earlier re-creation carried it over): not anonymous any more.
  const taken = new Set([...(inspect.HostConfig.Binds ?? []).map((b) => b.split(':')[1]), ...(inspect.HostConfig.Mounts ?? []).map((m) => m.Target)])
  return (inspect.Mounts ?? [])
    .filter((m) => m.Type === 'volume' && own.has(m.Destination) && !taken.has(m.Destination) && /^[0-9a-f]{64}$/.test(m.Name ?? ''))
    .map((m) => ({ name: m.Name as string, destination: m.Destination }))
    .sort((a, b) => a.destination.localeCompare(b.destination))
}
