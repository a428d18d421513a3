// docker inspect + the image's own config → the argv of a `docker run` that creates the same container.
// Only what differs from the image and from the engine's defaults is said, so inherited entrypoint, cmd, env and
// labels are not repeated. Every value is one argv word (`--flag=value`): nothing is ever parsed by a shell.
import { quote } from '../transport/shell.ts'
import { commandForm } from './entrypoint.ts'
import type { ContainerInspect, HealthConfig, ImageInspect } from './inspect.ts'
import { containerName } from './inspect.ts'
import { mountSpec, portSpecs, shortId } from './run-flags.ts'

/** What the engine does by default; a container's value equal to it is not pinned. Unknown → pinned. */
export interface EngineDefaults {
  /** The engine host's hostname (a --network=host container gets it unless one was given). */
  hostname?: string
  logDriver?: string
  runtime?: string
  /** 'host' on cgroup v1 engines, 'private' on cgroup v2 ones. */
  cgroupnsMode?: string
  ipcMode?: string
  /** false when the docker CLI refuses --mac-address against this engine (CLI 25+ needs API 1.44 for it). */
  cliMacAddress?: boolean
}

export interface RunArgvOptions {
  /** Name of the new container (default: the same name). */
  name?: string
  engine?: EngineDefaults
  /** Override the restart policy (recreate does, to start with --restart=no when asked). */
  restartPolicy?: { Name: string; MaximumRetryCount?: number }
}

export interface RunCommand {
  argv: string[]
  /** Things the docker CLI cannot say exactly, each with the closest form used. */
  inexact: string[]
}

const SHM_DEFAULT = 64 * 1024 * 1024

/** `docker run -d …` argv for a container, relative to its image's config. */
export function runArgv(inspect: ContainerInspect, image: ImageInspect | null, opts: RunArgvOptions = {}): string[] {
  return buildRunCommand(inspect, image, opts).argv
}

export function buildRunCommand(inspect: ContainerInspect, image: ImageInspect | null, opts: RunArgvOptions = {}): RunCommand {
  const c = inspect.Config
  const h = inspect.HostConfig
  const img = image?.Config ?? {}
  const eng: EngineDefaults = { logDriver: 'json-file', runtime: 'runc', ipcMode: 'private', ...opts.engine }
  const a: string[] = ['docker', 'run', '-d', `--name=${opts.name ?? containerName(inspect)}`]
  const inexact: string[] = []
  const flag = (name: string, value: string | number) => a.push(`--${name}=${value}`)
  const each = (name: string, values: readonly string[] | null | undefined) => (values ?? []).forEach((v) => flag(name, v))
  const net = h.NetworkMode ?? 'default'

  // Identity. A hostname docker generated (the short id) or took from the host is not pinned.
  const generatedHostname =
    c.Hostname === shortId(inspect.Id) || (net === 'host' && eng.hostname !== undefined && c.Hostname === eng.hostname) || net.startsWith('container:')
  if (c.Hostname && !generatedHostname) flag('hostname', c.Hostname)
  if (c.Domainname) flag('domainname', c.Domainname)
  if (c.MacAddress && eng.cliMacAddress === false) {
    inexact.push(`the MAC address ${c.MacAddress} is left out: this docker CLI sets one only with API 1.44 or newer (recreate keeps it through the Engine API)`)
  } else if (c.MacAddress) flag('mac-address', c.MacAddress)
  if (c.User && c.User !== (img.User ?? '')) flag('user', c.User)
  if (c.WorkingDir && c.WorkingDir !== (img.WorkingDir ?? '')) flag('workdir', c.WorkingDir)
  if (c.Tty) a.push('--tty')
  if (c.OpenStdin) a.push('--interactive')

  const imageEnv = new Set(img.Env ?? [])
  each('env', (c.Env ?? []).filter((e) => !imageEnv.has(e)))
  for (const [k, v] of Object.entries(c.Labels ?? {})) if (img.Labels?.[k] !== v) flag('label', `${k}=${v}`)

  // Network.
  if (net !== 'default') flag('network', net)
  const networks = inspect.NetworkSettings?.Networks ?? {}
  const primary = net === 'default' ? 'bridge' : net
  for (const [name, ep] of Object.entries(networks)) {
    if (name !== primary) {
      inexact.push(`also connected to network ${name}: the docker CLI (API 1.41) connects one network at create; run docker network connect ${name} after`)
      continue
    }
    if (ep.IPAMConfig?.IPv4Address) flag('ip', ep.IPAMConfig.IPv4Address)
    if (ep.IPAMConfig?.IPv6Address) flag('ip6', ep.IPAMConfig.IPv6Address)
    each('link-local-ip', ep.IPAMConfig?.LinkLocalIPs)
    each('network-alias', (ep.Aliases ?? []).filter((al) => al !== shortId(inspect.Id)))
    each('link', (ep.Links ?? []).map(linkSpec))
    if (ep.DriverOpts && Object.keys(ep.DriverOpts).length > 0) inexact.push(`network ${name} has driver options, which the docker CLI cannot set at create with API 1.41`)
  }
  each('link', (h.Links ?? []).map(linkSpec))
  each('dns', h.Dns)
  each('dns-search', h.DnsSearch)
  each('dns-option', h.DnsOptions)
  each('add-host', h.ExtraHosts)
  for (const p of portSpecs(h.PortBindings)) flag('publish', p)
  if (h.PublishAllPorts) a.push('--publish-all')
  const published = new Set(Object.keys(h.PortBindings ?? {}))
  for (const p of Object.keys(c.ExposedPorts ?? {})) if (!published.has(p) && !(p in (img.ExposedPorts ?? {}))) flag('expose', p)

  // Storage.
  each('volume', h.Binds)
  for (const v of Object.keys(c.Volumes ?? {})) if (!(v in (img.Volumes ?? {}))) flag('volume', v)
  each('volumes-from', h.VolumesFrom)
  for (const m of h.Mounts ?? []) flag('mount', mountSpec(m))
  for (const [path, o] of Object.entries(h.Tmpfs ?? {})) flag('tmpfs', o ? `${path}:${o}` : path)
  if (h.VolumeDriver) flag('volume-driver', h.VolumeDriver)
  for (const [k, v] of Object.entries(h.StorageOpt ?? {})) flag('storage-opt', `${k}=${v}`)

  // Lifecycle.
  const restart = opts.restartPolicy ?? h.RestartPolicy
  if (restart?.Name && restart.Name !== 'no') {
    flag('restart', restart.Name === 'on-failure' && restart.MaximumRetryCount ? `on-failure:${restart.MaximumRetryCount}` : restart.Name)
  } else if (opts.restartPolicy) flag('restart', 'no')
  if (h.AutoRemove) a.push('--rm')
  if (h.Init) a.push('--init')
  if (c.StopSignal && c.StopSignal !== (img.StopSignal ?? '')) flag('stop-signal', c.StopSignal)
  if (c.StopTimeout !== undefined && c.StopTimeout !== null) flag('stop-timeout', c.StopTimeout)
  healthFlags(c.Healthcheck, img.Healthcheck, flag, a, inexact)
  if (h.LogConfig?.Type && h.LogConfig.Type !== eng.logDriver) flag('log-driver', h.LogConfig.Type)
  for (const [k, v] of Object.entries(h.LogConfig?.Config ?? {})) flag('log-opt', `${k}=${v}`)
  if (h.Runtime && h.Runtime !== eng.runtime) flag('runtime', h.Runtime)

  // Namespaces and security.
  if (h.PidMode) flag('pid', h.PidMode)
  if (h.IpcMode && h.IpcMode !== eng.ipcMode) flag('ipc', h.IpcMode)
  if (h.UTSMode) flag('uts', h.UTSMode)
  if (h.UsernsMode) flag('userns', h.UsernsMode)
  if (h.CgroupnsMode && h.CgroupnsMode !== eng.cgroupnsMode) flag('cgroupns', h.CgroupnsMode)
  if (h.Privileged) a.push('--privileged')
  if (h.ReadonlyRootfs) a.push('--read-only')
  each('cap-add', h.CapAdd)
  each('cap-drop', h.CapDrop)
  for (const s of h.SecurityOpt ?? []) {
    // The CLI reads seccomp=<file> from a file; an inline profile cannot be passed on a command line.
    if (/^seccomp[=:]\s*\{/.test(s)) inexact.push('a custom seccomp profile is stored inline; the docker CLI needs it in a file (--security-opt seccomp=FILE)')
    else flag('security-opt', s)
  }
  each('group-add', h.GroupAdd)
  for (const [k, v] of Object.entries(h.Sysctls ?? {})) flag('sysctl', `${k}=${v}`)
  if (h.OomScoreAdj) flag('oom-score-adj', h.OomScoreAdj)
  if (h.OomKillDisable) a.push('--oom-kill-disable')

  // Resources.
  if (h.CgroupParent) flag('cgroup-parent', h.CgroupParent)
  if (h.NanoCpus) flag('cpus', nanoToDecimal(h.NanoCpus))
  if (h.CpuShares) flag('cpu-shares', h.CpuShares)
  if (h.CpuPeriod) flag('cpu-period', h.CpuPeriod)
  if (h.CpuQuota) flag('cpu-quota', h.CpuQuota)
  if (h.CpuRealtimePeriod) flag('cpu-rt-period', h.CpuRealtimePeriod)
  if (h.CpuRealtimeRuntime) flag('cpu-rt-runtime', h.CpuRealtimeRuntime)
  if (h.CpusetCpus) flag('cpuset-cpus', h.CpusetCpus)
  if (h.CpusetMems) flag('cpuset-mems', h.CpusetMems)
  if (h.Memory) flag('memory', h.Memory)
  if (h.MemoryReservation) flag('memory-reservation', h.MemoryReservation)
  // docker sets swap to twice the memory when only --memory is given; saying it again changes nothing.
  if (h.MemorySwap && !(h.Memory && h.MemorySwap === 2 * h.Memory)) flag('memory-swap', h.MemorySwap)
  if (h.MemorySwappiness !== undefined && h.MemorySwappiness !== null && h.MemorySwappiness !== -1) flag('memory-swappiness', h.MemorySwappiness)
  if (h.KernelMemory) flag('kernel-memory', h.KernelMemory)
  if (h.PidsLimit) flag('pids-limit', h.PidsLimit)
  if (h.ShmSize && h.ShmSize !== SHM_DEFAULT) flag('shm-size', h.ShmSize)
  for (const u of h.Ulimits ?? []) flag('ulimit', `${u.Name}=${u.Soft}:${u.Hard}`)
  if (h.BlkioWeight) flag('blkio-weight', h.BlkioWeight)
  each('blkio-weight-device', (h.BlkioWeightDevice ?? []).map((d) => `${d.Path}:${d.Weight}`))
  each('device-read-bps', (h.BlkioDeviceReadBps ?? []).map((d) => `${d.Path}:${d.Rate}`))
  each('device-write-bps', (h.BlkioDeviceWriteBps ?? []).map((d) => `${d.Path}:${d.Rate}`))
  each('device-read-iops', (h.BlkioDeviceReadIOps ?? []).map((d) => `${d.Path}:${d.Rate}`))
  each('device-write-iops', (h.BlkioDeviceWriteIOps ?? []).map((d) => `${d.Path}:${d.Rate}`))
  each('device', (h.Devices ?? []).map((d) => `${d.PathOnHost}:${d.PathInContainer}:${d.CgroupPermissions}`))
  each('device-cgroup-rule', h.DeviceCgroupRules)
  if ((h.DeviceRequests ?? []).length > 0) inexact.push('device requests (--gpus) are not printed')

  // The process.
  const cmd = commandForm(c, img)
  if (cmd.inexact) inexact.push(cmd.inexact)
  if (cmd.entrypoint !== undefined) flag('entrypoint', cmd.entrypoint)
  a.push(imageRef(inspect, image))
  a.push(...cmd.args)
  return { argv: a, inexact }
}

/** The image as the container names it, unless that name now points at another image: then its ID. */
export function imageRef(inspect: ContainerInspect, image: ImageInspect | null): string {
  const ref = inspect.Config.Image ?? inspect.Image
  if (!image) return ref
  if (image.Id === ref || image.Id.replace(/^sha256:/, '').startsWith(ref.replace(/^sha256:/, ''))) return ref
  const norm = normaliseRef(ref)
  if ((image.RepoTags ?? []).map(normaliseRef).includes(norm) || (image.RepoDigests ?? []).map(normaliseRef).includes(norm)) return ref
  return inspect.Image
}

function normaliseRef(ref: string): string {
  let r = ref.replace(/^docker\.io\//, '').replace(/^library\//, '')
  const last = r.slice(r.lastIndexOf('/') + 1)
  if (!last.includes(':') && !r.includes('@')) r += ':latest'
  return r
}

/** "/db:/me/alias" (how docker stores a link) → "db:alias" (how --link takes it). */
function linkSpec(l: string): string {
  const [target, alias] = l.split(':')
  return `${target.replace(/^\//, '')}:${(alias ?? target).split('/').pop()}`
}

/** Exact decimal for --cpus (the CLI parses it as a rational, so 1.5 is 1500000000 nano-CPUs). */
function nanoToDecimal(n: number): string {
  const whole = Math.floor(n / 1e9)
  const frac = String(n % 1e9).padStart(9, '0').replace(/0+$/, '')
  return frac ? `${whole}.${frac}` : String(whole)
}

function healthFlags(hc: HealthConfig | null | undefined, ih: HealthConfig | null | undefined, flag: (n: string, v: string | number) => void, a: string[], inexact: string[]) {
  if (!hc) return
  const test = hc.Test ?? []
  const itest = ih?.Test ?? []
  if (test.length === 1 && test[0] === 'NONE') {
    if (!(itest.length === 1 && itest[0] === 'NONE')) a.push('--no-healthcheck')
    return
  }
  if (test.length > 0 && JSON.stringify(test) !== JSON.stringify(itest)) {
    if (test[0] === 'CMD-SHELL' && test.length === 2) flag('health-cmd', test[1])
    else inexact.push(`the healthcheck is an exec form (${JSON.stringify(test)}); --health-cmd makes it a shell form`), flag('health-cmd', test.slice(1).map(quote).join(' '))
  }
  const dur = (name: string, v: number | undefined, iv: number | undefined) => {
    if (v && v !== (iv ?? 0)) flag(name, `${v}ns`)
  }
  dur('health-interval', hc.Interval, ih?.Interval)
  dur('health-timeout', hc.Timeout, ih?.Timeout)
  dur('health-start-period', hc.StartPeriod, ih?.StartPeriod)
  if (hc.Retries && hc.Retries !== (ih?.Retries ?? 0)) flag('health-retries', hc.Retries)
}

/** Shell-quoted and readable: one option per line with ` \` continuations. */
export function formatRunCommand(argv: string[]): string {
  const q = argv.map(quote)
  // `docker run -d` on the first line, then one word per line.
  return [q.slice(0, 3).join(' '), ...q.slice(3).map((w) => '  ' + w)].join(' \\\n')
}
