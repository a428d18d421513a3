// Node checks over the facts one host reported (pure): the container runtime (docker or containerd), disk, swap, clock skew, listening ports, and the
// control-plane containers the host's roles call for.
import type { Host, Inventory } from '../inventory/types.ts'
import type { HostFacts } from './host-facts.ts'
import { ok, problem, type CheckResult } from './types.ts'

export const SKEW_WARN_MS = 500
export const SKEW_FAIL_MS = 2000
export const DISK_WARN_FREE = 0.2
export const DISK_FAIL_FREE = 0.05

const gb = (n: number) => `${(n / 1e9).toFixed(1)} GB`

/** Clock offset of a host: its clock minus the midpoint of dr's clock around the command. */
export const clockOffsetMs = (f: HostFacts): number | undefined =>
  f.clockMs === undefined ? undefined : f.clockMs - (f.localBeforeMs + f.localAfterMs) / 2

export function expectedPorts(inv: Inventory, h: Host): number[] {
  return [
    ...(h.roles.includes('etcd') ? [inv.etcd.clientPort, inv.etcd.peerPort] : []),
    ...(h.roles.includes('controlplane') ? [inv.kubernetes.apiserverPort] : []),
  ]
}

export function expectedContainers(inv: Inventory, h: Host): string[] {
  return [
    ...(h.roles.includes('etcd') ? [inv.etcd.container] : []),
    ...(h.roles.includes('controlplane') ? [inv.kubernetes.apiserverContainer] : []),
    inv.kubernetes.kubeletContainer,
  ]
}

export function hostChecks(inv: Inventory, h: Host, f: HostFacts, medianOffsetMs: number): CheckResult[] {
  const out: CheckResult[] = []
  const s = h.name
  const rt = f.runtime
  const running = `${rt}-running`
  if (f.runtimeVersion) out.push(ok('preflight', running, s, `${rt} ${f.runtimeVersion} answers`))
  else out.push(problem('fail', 'preflight', running, s, `${rt} does not answer`, `start it: sudo systemctl start ${rt} (on ${s})`, [f.runtimeError ?? '']))

  if (f.df) {
    const free = f.df.availBytes / f.df.sizeBytes
    const what = `${gb(f.df.availBytes)} free of ${gb(f.df.sizeBytes)} on ${f.df.mount} (${f.df.filesystem})`
    const fix = `free space on ${f.df.mount}: old images (${rt === 'docker' ? 'docker image prune' : 'crictl rmi --prune'}), logs; then compact and defragment etcd`
    if (!h.roles.includes('etcd')) out.push(ok('nodes', 'disk-free', s, what))
    else if (free < DISK_FAIL_FREE) out.push(problem('fail', 'nodes', 'disk-free', s, `etcd data filesystem nearly full: ${what}`, fix))
    else if (free < DISK_WARN_FREE) out.push(problem('warn', 'nodes', 'disk-free', s, `etcd data filesystem below ${DISK_WARN_FREE * 100}% free: ${what}`, fix))
    else out.push(ok('nodes', 'disk-free', s, `etcd data filesystem: ${what}`))
  } else out.push(problem('warn', 'nodes', 'disk-free', s, 'could not read df', 'check that df works on the host'))

  if (f.swap.length) out.push(problem('warn', 'nodes', 'swap', s, `swap is on (${f.swap.length} device(s)): the kubelet expects it off and etcd stalls when paged out`, `sudo swapoff -a on ${s}, and remove swap from /etc/fstab`, f.swap))
  else out.push(ok('nodes', 'swap', s, 'swap is off'))

  const off = clockOffsetMs(f)
  if (off === undefined) out.push(problem('warn', 'nodes', 'clock-skew', s, 'could not read the clock', 'check `date +%s%N` on the host'))
  else {
    // What the round trip cannot explain: dr only knows the host read its clock somewhere inside it.
    const uncertainty = (f.localAfterMs - f.localBeforeMs) / 2
    const skew = Math.max(0, Math.abs(off - medianOffsetMs) - uncertainty)
    const msg = `clock ${Math.round(off - medianOffsetMs)} ms (±${Math.round(uncertainty)} ms) from the hosts' median`
    const fix = `sync the clock: enable NTP (timedatectl set-ntp true / chrony) on ${s}`
    if (skew > SKEW_FAIL_MS) out.push(problem('fail', 'nodes', 'clock-skew', s, msg, fix))
    else if (skew > SKEW_WARN_MS) out.push(problem('warn', 'nodes', 'clock-skew', s, msg, fix))
    else out.push(ok('nodes', 'clock-skew', s, msg))
  }

  const want = expectedPorts(inv, h)
  if (want.length) {
    const missing = want.filter((p) => !f.listening.includes(p))
    if (missing.length) out.push(problem('fail', 'nodes', 'ports', s, `not listening on ${missing.join(', ')}`, `look at the containers that own them: ${rt === 'docker' ? 'docker ps -a; docker logs --tail 50 <name>' : 'ctr -n k8s.io tasks ls; the logs under /var/log/pods/'} on ${s}`, [`listening: ${f.listening.join(' ')}`]))
    else out.push(ok('nodes', 'ports', s, `listening on ${want.join(', ')}`))
  }

  for (const name of expectedContainers(inv, h)) {
    // Static pods (kubeadm, kind): the kubelet is a service and the containers are k8s_<component>_<pod>_…
    if (inv.flavor !== 'rke' && name === inv.kubernetes.kubeletContainer) continue
    // `docker ps -a` lists the newest first: with no running attempt, the newest attempt says how the pod ended.
    const staticPod = inv.flavor !== 'rke' ? f.containers.filter((x) => x.name.startsWith(`k8s_${name}_`)) : []
    const c = f.containers.find((x) => x.name === name) ?? staticPod.find((x) => x.state === 'running') ?? staticPod[0]
    if (!c) out.push(problem('fail', 'nodes', 'container', s, `no ${name} container`, `re-create it with your installer (${inv.flavor === 'rke' ? 'rke up' : `kubeadm: its manifest in /etc/kubernetes/manifests`}) on ${s}`))
    else if (c.state !== 'running') {
      const fix = staticPod.length
        ? `a static pod: the kubelet starts the next attempt by itself; when it does not, its log says why (journalctl -u kubelet on ${s}); dr doctor reads it`
        : `docker logs --tail 50 ${name} on ${s}; dr doctor`
      out.push(problem('fail', 'nodes', 'container', s, `${name} is ${c.state} (${c.status})${staticPod.length ? `: ${c.name}` : ''}`, fix, [`${c.name}\t${c.state}\t${c.status}`]))
    }
    else out.push(ok('nodes', 'container', s, `${name} running (${c.status})`))
  }
  return out
}

export function median(ns: number[]): number {
  if (!ns.length) return 0
  const s = [...ns].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
