// Seed 002: the kubelet cannot create a static pod's next container because an old container still holds the
// name ("Conflict. The container name \"/k8s_kube-apiserver_…_24\" is already in use by container \"eced…\"").
// The apiserver then looks like "connection refused 127.0.0.1:2379"; the cause is only in the kubelet's log.
// Pure: `docker ps -a` rows and kubelet log text in, the stale exited containers (the only ones to remove) out.

export interface PsRow {
  id: string
  name: string
  state: string
  status: string
}

export interface NameConflict {
  /** The name the kubelet wanted, without the leading slash. */
  wanted: string
  /** The container that holds it, as the log names it (full or short ID). */
  holder: string
  line: string
}

export interface StaleFinding {
  conflict: NameConflict
  /** The pod part of the name: k8s_<container>_<pod>_<namespace>_<uid>_<attempt> → <pod>_<namespace>_<uid>. */
  pod: string
  holder?: PsRow
  /** Exited containers of that pod (the holder when it exited, and older attempts and sandboxes): the fix removes these. */
  stale: PsRow[]
}

const CONFLICT = /Conflict\. The container name \\*"\/([^"\\]+)\\*" is already in use by\s+container \\*"([0-9a-f]{12,64})\\*"/g

/** A long kubelet line kept readable: its head (time, pod) and the whole Conflict sentence (pure). */
export function shortLine(line: string, max = 600): string {
  if (line.length <= max) return line
  const c = line.indexOf('Conflict.')
  if (c < 0) return line.slice(0, max) + '…'
  const tail = line.slice(c, c + max - 160)
  return `${line.slice(0, Math.min(c, 150))} … ${tail}${c + max - 160 < line.length ? '…' : ''}`
}

/** The inspect fields that show a container is a leftover: when it was created and exited, how, and whose it is. */
export interface StaleInspect {
  id: string
  name: string
  created: string
  status: string
  exitCode: number
  finishedAt: string
  image: string
  /** io.kubernetes.docker.type: the kubelet lists (and garbage-collects) only the containers labelled 'container'. */
  kubeletType?: string
  restartCount?: string
}

/** `docker container inspect` JSON → the fields above (pure). */
export function staleInspectFields(list: Array<{ Id: string; Name: string; Created: string; State?: { Status?: string; ExitCode?: number; FinishedAt?: string }; Config?: { Image?: string; Labels?: Record<string, string> | null } }>): StaleInspect[] {
  return list.map((x) => ({
    id: x.Id,
    name: x.Name.replace(/^\//, ''),
    created: x.Created,
    status: x.State?.Status ?? '?',
    exitCode: x.State?.ExitCode ?? -1,
    finishedAt: x.State?.FinishedAt ?? '?',
    image: x.Config?.Image ?? '?',
    kubeletType: x.Config?.Labels?.['io.kubernetes.docker.type'],
    restartCount: x.Config?.Labels?.['annotation.io.kubernetes.container.restartCount'],
  }))
}

export const inspectLine = (i: StaleInspect): string =>
  `docker inspect ${i.id.slice(0, 12)}: Name=/${i.name} State.Status=${i.status} State.ExitCode=${i.exitCode} State.FinishedAt=${i.finishedAt} Created=${i.created} Config.Image=${i.image} ` +
  `Labels[io.kubernetes.docker.type]=${i.kubeletType ?? '(none: not listed as one of the kubelet\'s containers)'}${i.restartCount !== undefined ? ` Labels[…restartCount]=${i.restartCount}` : ''}`

/** Every name conflict the kubelet logged, one per wanted name (the last occurrence). */
export function parseNameConflicts(kubeletLog: string): NameConflict[] {
  const byName = new Map<string, NameConflict>()
  for (const m of kubeletLog.matchAll(CONFLICT)) {
    const start = kubeletLog.lastIndexOf('\n', m.index) + 1
    const end = kubeletLog.indexOf('\n', m.index + m[0].length)
    byName.set(m[1], { wanted: m[1], holder: m[2], line: shortLine(kubeletLog.slice(start, end < 0 ? undefined : end).trim()) })
  }
  return [...byName.values()]
}

/** kubelet's docker names: k8s_<container>_<pod>_<namespace>_<uid>_<attempt>. */
export function parseKubeletName(name: string): { container: string; pod: string; attempt: number } | undefined {
  const m = /^k8s_([^_]+)_(.+_[^_]+_[0-9a-f-]+)_(\d+)$/.exec(name)
  return m ? { container: m[1], pod: m[2], attempt: Number(m[3]) } : undefined
}

/** `docker ps -a --no-trunc --format '{{.ID}}\t{{.Names}}\t{{.State}}\t{{.Status}}'` → rows. */
export function parsePsRows(text: string): PsRow[] {
  return text
    .split('\n')
    .map((l) => l.split('\t'))
    .filter((f) => f.length >= 4 && f[1])
    .map(([id, name, state, status]) => ({ id, name, state, status }))
}

export const isExited = (r: PsRow) => r.state === 'exited' || r.state === 'created' || r.state === 'dead'

export function findStaleContainers(ps: PsRow[], kubeletLog: string): StaleFinding[] {
  const out: StaleFinding[] = []
  for (const conflict of parseNameConflicts(kubeletLog)) {
    const parsed = parseKubeletName(conflict.wanted)
    if (!parsed) continue
    // The log names the holder by ID. When no container has that ID any more, the conflict is history (someone
    // removed it, the kubelet has moved on): a container that holds the name now is a new attempt, not the cause.
    const holder = ps.find((r) => r.id.startsWith(conflict.holder) || conflict.holder.startsWith(r.id))
    if (!holder) continue
    // Only exited containers of the same pod, never a running one: the holder when it exited, and the older
    // attempts and sandboxes the kubelet left behind (seed 002 removed exactly those two).
    const stale = ps.filter((r) => isExited(r) && parseKubeletName(r.name)?.pod === parsed.pod && (r.name.startsWith('k8s_POD_') || parseKubeletName(r.name)!.container === parsed.container))
    if (stale.length) out.push({ conflict, pod: parsed.pod, holder, stale })
  }
  return out
}
