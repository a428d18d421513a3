// The parts of `docker inspect` (container and image) that re-creating a container reads, as the Engine API
// (1.41, docker 20.10) returns them. Values are untrusted data: they are only ever put into argv arrays or JSON.
import type { Transport } from '../transport/types.ts'
import { DrError } from '../core/error.ts'

export interface HealthConfig {
  Test?: string[] | null
  Interval?: number
  Timeout?: number
  StartPeriod?: number
  Retries?: number
}

export interface ContainerConfig {
  Hostname?: string
  Domainname?: string
  User?: string
  AttachStdin?: boolean
  AttachStdout?: boolean
  AttachStderr?: boolean
  ExposedPorts?: Record<string, object> | null
  Tty?: boolean
  OpenStdin?: boolean
  StdinOnce?: boolean
  Env?: string[] | null
  Cmd?: string[] | null
  Healthcheck?: HealthConfig | null
  Image?: string
  Volumes?: Record<string, object> | null
  WorkingDir?: string
  Entrypoint?: string[] | null
  NetworkDisabled?: boolean
  MacAddress?: string
  OnBuild?: string[] | null
  Labels?: Record<string, string> | null
  StopSignal?: string
  StopTimeout?: number | null
  Shell?: string[] | null
}

export interface PortBinding {
  HostIp?: string
  HostPort?: string
}

export interface Mount {
  Type?: string
  Source?: string
  Target?: string
  ReadOnly?: boolean
  Consistency?: string
  BindOptions?: { Propagation?: string; NonRecursive?: boolean } | null
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string> | null; DriverConfig?: { Name?: string; Options?: Record<string, string> | null } | null } | null
  TmpfsOptions?: { SizeBytes?: number; Mode?: number } | null
}

export interface ThrottleDevice {
  Path: string
  Rate: number
}
export interface WeightDevice {
  Path: string
  Weight: number
}
export interface DeviceMapping {
  PathOnHost: string
  PathInContainer: string
  CgroupPermissions: string
}
export interface Ulimit {
  Name: string
  Soft: number
  Hard: number
}

export interface HostConfig {
  Binds?: string[] | null
  LogConfig?: { Type?: string; Config?: Record<string, string> | null }
  NetworkMode?: string
  PortBindings?: Record<string, PortBinding[] | null> | null
  RestartPolicy?: { Name?: string; MaximumRetryCount?: number }
  AutoRemove?: boolean
  VolumeDriver?: string
  VolumesFrom?: string[] | null
  CapAdd?: string[] | null
  CapDrop?: string[] | null
  CgroupnsMode?: string
  Dns?: string[] | null
  DnsOptions?: string[] | null
  DnsSearch?: string[] | null
  ExtraHosts?: string[] | null
  GroupAdd?: string[] | null
  IpcMode?: string
  Cgroup?: string
  Links?: string[] | null
  OomScoreAdj?: number
  PidMode?: string
  Privileged?: boolean
  PublishAllPorts?: boolean
  ReadonlyRootfs?: boolean
  SecurityOpt?: string[] | null
  StorageOpt?: Record<string, string> | null
  Tmpfs?: Record<string, string> | null
  UTSMode?: string
  UsernsMode?: string
  ShmSize?: number
  Sysctls?: Record<string, string> | null
  Runtime?: string
  Isolation?: string
  CpuShares?: number
  Memory?: number
  NanoCpus?: number
  CgroupParent?: string
  BlkioWeight?: number
  BlkioWeightDevice?: WeightDevice[] | null
  BlkioDeviceReadBps?: ThrottleDevice[] | null
  BlkioDeviceWriteBps?: ThrottleDevice[] | null
  BlkioDeviceReadIOps?: ThrottleDevice[] | null
  BlkioDeviceWriteIOps?: ThrottleDevice[] | null
  CpuPeriod?: number
  CpuQuota?: number
  CpuRealtimePeriod?: number
  CpuRealtimeRuntime?: number
  CpusetCpus?: string
  CpusetMems?: string
  Devices?: DeviceMapping[] | null
  DeviceCgroupRules?: string[] | null
  DeviceRequests?: unknown[] | null
  KernelMemory?: number
  KernelMemoryTCP?: number
  MemoryReservation?: number
  MemorySwap?: number
  MemorySwappiness?: number | null
  OomKillDisable?: boolean | null
  PidsLimit?: number | null
  Ulimits?: Ulimit[] | null
  Mounts?: Mount[] | null
  MaskedPaths?: string[] | null
  ReadonlyPaths?: string[] | null
  Init?: boolean | null
  ConsoleSize?: [number, number]
  [other: string]: unknown
}

export interface EndpointSettings {
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string; LinkLocalIPs?: string[] | null } | null
  Links?: string[] | null
  Aliases?: string[] | null
  NetworkID?: string
  EndpointID?: string
  Gateway?: string
  IPAddress?: string
  IPPrefixLen?: number
  IPv6Gateway?: string
  GlobalIPv6Address?: string
  MacAddress?: string
  DriverOpts?: Record<string, string> | null
}

export interface MountPoint {
  Type?: string
  Name?: string
  Source?: string
  Destination: string
  Driver?: string
  Mode?: string
  RW?: boolean
  Propagation?: string
}

export interface ContainerInspect {
  Id: string
  Created?: string
  Path?: string
  Args?: string[]
  State?: { Status?: string; Running?: boolean; Restarting?: boolean; ExitCode?: number; StartedAt?: string; FinishedAt?: string; Error?: string }
  Image: string
  Name: string
  RestartCount?: number
  HostConfig: HostConfig
  Mounts?: MountPoint[]
  Config: ContainerConfig
  NetworkSettings?: { Networks?: Record<string, EndpointSettings> | null; [other: string]: unknown }
  [other: string]: unknown
}

export interface ImageInspect {
  Id: string
  RepoTags?: string[] | null
  RepoDigests?: string[] | null
  Config?: ContainerConfig | null
  [other: string]: unknown
}

/** The container's name without docker's leading slash. */
export const containerName = (c: ContainerInspect): string => c.Name.replace(/^\//, '')

/** The command the process really runs (Path + Args), wherever docker got it from: image entrypoint, Cmd, or both. */
export const processArgv = (c: ContainerInspect): string[] => [c.Path ?? '', ...(c.Args ?? [])]

/** `docker inspect NAME` over a transport; a missing container is a DrError with code container.not-found. */
export async function inspectContainer(t: Transport, name: string): Promise<ContainerInspect> {
  const r = await t.$.with({ doing: `inspect container ${name}` })`docker container inspect ${name}`.nothrow()
  if (!r.ok) {
    if (/no such (container|object)/i.test(r.stderr)) {
      throw new DrError({ code: 'container.not-found', message: `there is no container named ${name} on ${t.host}`, host: t.host, hint: `list them with: docker ps -a --filter name=${name}` })
    }
    throw new DrError({ code: 'container.inspect-failed', message: `docker inspect ${name} failed on ${t.host}`, host: t.host, command: r.command, exitStatus: r.exitCode, stderr: r.stderr })
  }
  const list = JSON.parse(r.stdout) as ContainerInspect[]
  return list[0]
}

/** `docker image inspect` of the exact image a container was created from (by ID, so a moved tag cannot mislead). */
export async function inspectImage(t: Transport, idOrName: string): Promise<ImageInspect> {
  const r = await t.$.with({ doing: `inspect image ${idOrName}` })`docker image inspect ${idOrName}`.nothrow()
  if (!r.ok) {
    throw new DrError({
      code: 'container.image-missing',
      message: `image ${idOrName} is not on ${t.host}`,
      host: t.host,
      stderr: r.stderr,
      hint: 'the image a container was created from must still be present to re-create it (docker images)',
    })
  }
  return (JSON.parse(r.stdout) as ImageInspect[])[0]
}
