// Where a joining member's etcd container comes from. On RKE there is no recipe on the host, only containers: the
// host's own earlier etcd (kept by a fence, a re-creation or a removal) if there is one, else a surviving member's
// container with that member's name, addresses and certificate paths replaced by the joining host's. On kubeadm
// the recipe is the manifest: the host's own (live, or stashed by a stop) if there is one, else a member's with
// its name and address replaced.
import type { ContainerInspect } from '../../src/container/inspect.ts'
import { inspectContainer } from '../../src/container/inspect.ts'
import type { Transport } from '../../src/transport/types.ts'
import { getFlag } from '../../src/container/command-flags.ts'
import { editManifestFlags, manifestArgv, parseManifest, renderManifest } from '../../src/component/manifest.ts'

export interface HostIdentity {
  /** Inventory name (master3). */
  name: string
  address: string
}

/** Containers a host's earlier etcd may be kept as: by dr fence, by a re-creation, by dr member remove. */
export const keptEtcdPattern = (etcd: string) => new RegExp(`^${etcd.replace(/[.]/g, '\\.')}-(fenced|old|removed)-`)

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** Replace one host's identity by another's in a string: its address, the address with dashes (RKE's cert names), its name. */
export function substituteIdentity(s: string, from: HostIdentity, to: HostIdentity): string {
  const dashes = (a: string) => a.replaceAll('.', '-')
  return s
    .replace(new RegExp(`(?<![0-9.])${esc(from.address)}(?![0-9])`, 'g'), to.address)
    .replace(new RegExp(`(?<!\\d|\\d-)${esc(dashes(from.address))}(?![0-9])`, 'g'), dashes(to.address))
    .replace(new RegExp(`(?<![A-Za-z0-9_.])${esc(from.name)}(?![A-Za-z0-9_])`, 'g'), to.name)
}

/**
 * A member's container as a template for another host (pure): every string of the process, environment, binds and
 * labels with the identity replaced, no hostname (host networking gives the host's own), stopped and not restarted
 * until dr re-creates it with the joining flags.
 */
export function containerForHost(src: ContainerInspect, from: HostIdentity, to: HostIdentity): ContainerInspect {
  const sub = (s: string) => substituteIdentity(s, from, to)
  const subs = (a: string[] | null | undefined) => (a ? a.map(sub) : a)
  const config = {
    ...src.Config,
    Env: subs(src.Config.Env),
    Cmd: subs(src.Config.Cmd),
    Entrypoint: subs(src.Config.Entrypoint),
    Labels: src.Config.Labels ? Object.fromEntries(Object.entries(src.Config.Labels).map(([k, v]) => [k, sub(v)])) : src.Config.Labels,
  }
  delete config.Hostname
  delete config.Domainname
  return {
    ...src,
    Path: src.Path === undefined ? undefined : sub(src.Path),
    Args: subs(src.Args) ?? undefined,
    Config: config,
    HostConfig: { ...src.HostConfig, Binds: subs(src.HostConfig.Binds) ?? src.HostConfig.Binds, RestartPolicy: { Name: 'no', MaximumRetryCount: 0 } },
  } as ContainerInspect
}

/**
 * A member's etcd static-pod manifest (text) made into another host's (pure): every name and address replaced,
 * nothing else. A member name that is neither the inventory name nor made of the address (kubeadm names members by
 * node name) becomes the joining host's inventory name: the new member must not carry the template's.
 */
export function manifestForHost(text: string, from: HostIdentity, to: HostIdentity): string {
  const out = substituteIdentity(text, from, to)
  const nameOf = (t: string) => getFlag(manifestArgv(parseManifest(t, 'the etcd manifest', 'etcd')), '--name')
  const srcName = nameOf(text)
  if (!srcName || nameOf(out) !== srcName) return out
  const m = parseManifest(out, 'the etcd manifest', 'etcd')
  editManifestFlags(m, { setArgs: { '--name': to.name } })
  return renderManifest(m)
}

/** The host's newest kept etcd container (fenced, old or removed), if any. */
export async function newestKept(t: Transport, etcd: string): Promise<ContainerInspect | undefined> {
  const names = (await t.$`docker ps -a --format {{.Names}}`.text()).split('\n').filter((n) => keptEtcdPattern(etcd).test(n))
  if (names.length === 0) return undefined
  const all = await Promise.all(names.map((n) => inspectContainer(t, n)))
  all.sort((a, b) => (a.Created ?? '').localeCompare(b.Created ?? ''))
  return all[all.length - 1]
}

