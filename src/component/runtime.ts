// The container runtime under a static pod: what the static-pod component asks of it — the pod's containers
// (running or not, with their argv and state), their log, removing one. Two implementations: docker (a kubelet
// with dockershim names and labels its containers io.kubernetes.*; seed 002) and containerd through `ctr` in the
// namespace k8s.io (kind nodes, seeds 000/001: containerd's CRI plugin puts the same io.kubernetes.* labels on
// them; a kind node has no crictl of Debian's, and ctr is there wherever containerd is). Containerd's containers
// are given in docker's inspect shape (Id, Created, Path/Args, State, Config), the fields the component reads.
import type { ContainerInspect } from '../container/inspect.ts'
import { DrError } from '../core/error.ts'
import type { Inventory } from '../inventory/types.ts'
import type { Transport } from '../transport/types.ts'

export type RuntimeName = 'docker' | 'containerd'
export const RUNTIMES: readonly RuntimeName[] = ['docker', 'containerd']
/** A host label that overrides the flavor's runtime (a kubeadm cluster on containerd: `dr.container-runtime: containerd`). */
export const CONTAINER_RUNTIME_LABEL = 'dr.container-runtime'

export interface PodRuntime {
  readonly name: RuntimeName
  /** The containers of `container` in pods of `namespace`, running or not, newest first. */
  containers(t: Transport, container: string, namespace: string): Promise<ContainerInspect[]>
  /** The last lines of a container's log ('' when there is none). */
  logs(t: Transport, c: ContainerInspect, tail: number): Promise<string>
  /** Where an operator reads the newest container's log on the host, as a command. */
  logHint(container: string): string
  /** Remove a container that is not running (a stale one holding a name, seed 002). */
  remove(t: Transport, c: ContainerInspect): Promise<void>
  /**
   * Run a command of an image to completion in a throwaway container with no network, host paths bound in (e.g.
   * the etcd image's own etcdctl for `snapshot restore`: the host needs no etcd binaries). Throws on failure.
   */
  runOnce(t: Transport, o: RunOnce): Promise<void>
}

export interface RunOnce {
  image: string
  argv: string[]
  /** [host path, path in the container, read-only] */
  binds: Array<[string, string, boolean?]>
  env?: Record<string, string>
  doing: string
  timeoutMs?: number
}

/** An image reference as containerd names it: docker's short names get their registry (docker.io/library/…). */
export function fullImageRef(ref: string): string {
  const first = ref.split('/')[0]
  if (ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) return ref
  return ref.includes('/') ? `docker.io/${ref}` : `docker.io/library/${ref}`
}

/** The runtime of a host: the label, else the flavor's (kind → containerd; kubeadm → docker, as the lab's). */
export function runtimeName(inv: Inventory, host: string): RuntimeName {
  const o = inv.hosts[host]?.labels?.[CONTAINER_RUNTIME_LABEL]
  if (o === 'docker' || o === 'containerd') return o
  return inv.flavor === 'kind' ? 'containerd' : 'docker'
}

export const runtimeFor = (inv: Inventory, host: string): PodRuntime => (runtimeName(inv, host) === 'containerd' ? containerdRuntime : dockerRuntime)

export const dockerRuntime: PodRuntime = {
  name: 'docker',
  async containers(t, container, namespace) {
    const ids = await t.$.with({ timeoutMs: 20_000, doing: `list the ${container} pod's containers` })`docker ps -a -q --no-trunc --filter ${`label=io.kubernetes.container.name=${container}`} --filter ${`label=io.kubernetes.pod.namespace=${namespace}`}`.text()
    const list = ids.split('\n').filter(Boolean)
    if (list.length === 0) return []
    // The kubelet may remove an old container between the two commands: docker then inspects the others, prints
    // "No such object" for that one and exits 1. Only that is tolerated.
    const r = await t.$.with({ timeoutMs: 20_000 })`docker inspect ${list}`.nothrow()
    const gone = r.stderr.split('\n').filter((l) => l.trim() && !/No such object/i.test(l))
    if (!r.ok && (gone.length > 0 || !r.stdout.trim().startsWith('['))) {
      throw new DrError({ code: 'command.failed', message: `docker inspect of the ${container} pod's containers failed on ${t.host}`, host: t.host, stderr: r.stderr, exitStatus: r.exitCode })
    }
    const all = JSON.parse(r.stdout) as ContainerInspect[]
    return all.sort((a, b) => Date.parse(b.Created ?? '') - Date.parse(a.Created ?? ''))
  },
  async logs(t, c, tail) {
    return (await t.$.with({ timeoutMs: 20_000 })`docker logs --tail ${String(tail)} ${c.Id} 2>&1`.nothrow()).stdout
  },
  logHint(container) {
    return `docker logs --tail 50 $(docker ps -a -q -n 1 --filter label=io.kubernetes.container.name=${container})`
  },
  async remove(t, c) {
    await t.$.with({ timeoutMs: 30_000, doing: `remove container ${c.Id.slice(0, 12)}` })`docker rm ${c.Id}`
  },
  async runOnce(t, o) {
    const env = Object.entries(o.env ?? {}).flatMap(([k, v]) => ['-e', `${k}=${v}`])
    const binds = o.binds.flatMap(([h, c, ro]) => ['-v', `${h}:${c}${ro ? ':ro' : ''}`])
    await t.$.with({ timeoutMs: o.timeoutMs ?? 600_000, doing: o.doing })`docker run --rm --network=none ${env} ${binds} --entrypoint ${o.argv[0]} ${o.image} ${o.argv.slice(1)}`
  },
}

/** What `ctr containers info` prints (containerd 1.6), the fields read here. */
interface CtrInfo {
  ID: string
  Labels?: Record<string, string>
  Image?: string
  CreatedAt?: string
  Spec?: { process?: { args?: string[]; env?: string[] } }
}

const CTR = 'ctr -n k8s.io'
// One round trip: the matching containers' info, then the task table (a container without a task has not run
// since the node booted, or its task was deleted).
const LIST = `set -e
ids=$(${CTR} containers ls -q "labels.\\"io.kubernetes.container.name\\"==$1,labels.\\"io.kubernetes.pod.namespace\\"==$2")
for id in $ids; do
  printf '\\n@@dr-container %s\\n' "$id"
  # A container removed since the listing has no info: it is simply left out.
  ${CTR} containers info "$id" 2>/dev/null || true
done
printf '\\n@@dr-tasks\\n'
${CTR} tasks ls`

/** `ctr` output (the script above) → containers in docker's inspect shape, newest first (pure). */
export function parseCtrList(text: string): ContainerInspect[] {
  const parts = text.split('\n@@dr-')
  const tasks = new Map<string, string>()
  const infos: CtrInfo[] = []
  for (const p of parts) {
    if (p.startsWith('tasks\n')) {
      for (const l of p.split('\n').slice(2)) {
        const f = l.trim().split(/\s+/)
        if (f.length >= 3) tasks.set(f[0], f[2])
      }
    } else if (p.startsWith('container ')) {
      const body = p.slice(p.indexOf('\n') + 1).trim()
      if (body) infos.push(JSON.parse(body) as CtrInfo)
    }
  }
  const all = infos.map((i): ContainerInspect => {
    const status = tasks.get(i.ID)
    const args = i.Spec?.process?.args ?? []
    return {
      Id: i.ID,
      Name: i.ID,
      Created: i.CreatedAt,
      Path: args[0],
      Args: args.slice(1),
      State: { Status: status ? status.toLowerCase() : 'exited', Running: status === 'RUNNING' },
      Image: i.Image ?? '',
      Config: { Image: i.Image, Labels: i.Labels ?? {}, Env: i.Spec?.process?.env ?? [] },
      HostConfig: {},
    }
  })
  return all.sort((a, b) => Date.parse(b.Created ?? '') - Date.parse(a.Created ?? ''))
}

/** The kubelet's log directory of a pod's container: /var/log/pods/<namespace>_<pod>_<uid>/<container>/. */
function logDir(c: ContainerInspect): string | undefined {
  const l = c.Config?.Labels ?? {}
  const ns = l['io.kubernetes.pod.namespace']
  const pod = l['io.kubernetes.pod.name']
  const uid = l['io.kubernetes.pod.uid']
  const name = l['io.kubernetes.container.name']
  return ns && pod && uid && name ? `/var/log/pods/${ns}_${pod}_${uid}/${name}` : undefined
}

export const containerdRuntime: PodRuntime = {
  name: 'containerd',
  async containers(t, container, namespace) {
    const r = await t.$.with({ timeoutMs: 30_000, doing: `list the ${container} pod's containers (ctr -n k8s.io)` })`sh -c ${LIST} dr-ctr-list ${container} ${namespace}`
    return parseCtrList(r.stdout)
  },
  async logs(t, c, tail) {
    const dir = logDir(c)
    if (!dir) return ''
    // The newest attempt's file (<restart count>.log); none yet is an empty log.
    const r = await t.$.with({ timeoutMs: 20_000 })`f=$(ls -t ${dir}/*.log 2>/dev/null | head -n 1); [ -z "$f" ] || tail -n ${String(tail)} "$f"`.nothrow()
    return r.stdout
  },
  logHint(container) {
    return `tail -n 50 "$(ls -t /var/log/pods/kube-system_${container}-*/${container}/*.log | head -n 1)" (containerd: \`ctr -n k8s.io tasks ls\`)`
  },
  async remove(t, c) {
    // Its stopped task first (none after a reboot: that "not found" is the one failure let through), then it.
    await t.$.with({ timeoutMs: 30_000, doing: `remove container ${c.Id.slice(0, 12)}` })`{ ctr -n k8s.io tasks delete ${c.Id} 2>&1 | grep -v 'not found' >&2 || true; } && ctr -n k8s.io containers delete ${c.Id}`
  },
  async runOnce(t, o) {
    // ctr's default is a network namespace of its own with nothing in it (docker's --network=none).
    const env = Object.entries(o.env ?? {}).flatMap(([k, v]) => ['--env', `${k}=${v}`])
    const binds = o.binds.flatMap(([h, c, ro]) => ['--mount', `type=bind,src=${h},dst=${c},options=rbind:${ro ? 'ro' : 'rw'}`])
    const id = `dr-run-${Date.now()}-${process.pid}`
    await t.$.with({ timeoutMs: o.timeoutMs ?? 600_000, doing: o.doing })`ctr -n k8s.io run --rm ${env} ${binds} ${fullImageRef(o.image)} ${id} ${o.argv}`
  },
}
