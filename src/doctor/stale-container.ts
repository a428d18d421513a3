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

/** Every name conflict the kubelet logged, one per wanted name (the last occurrence). */
export function parseNameConflicts(kubeletLog: string): NameConflict[] {
  const byName = new Map<string, NameConflict>()
  for (const m of kubeletLog.matchAll(CONFLICT)) {
    const start = kubeletLog.lastIndexOf('\n', m.index) + 1
    const end = kubeletLog.indexOf('\n', m.index + m[0].length)
    const line = kubeletLog.slice(start, end < 0 ? undefined : end).trim()
    byName.set(m[1], { wanted: m[1], holder: m[2], line: line.length > 400 ? line.slice(0, 400) + '…' : line })
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
    const holder = ps.find((r) => r.id.startsWith(conflict.holder) || conflict.holder.startsWith(r.id)) ?? ps.find((r) => r.name === conflict.wanted)
    // Only exited containers of the same pod, never a running one: the holder when it exited, and the older
    // attempts and sandboxes the kubelet left behind (seed 002 removed exactly those two).
    const stale = ps.filter((r) => isExited(r) && parseKubeletName(r.name)?.pod === parsed.pod && (r.name.startsWith('k8s_POD_') || parseKubeletName(r.name)!.container === parsed.container))
    if (stale.length) out.push({ conflict, pod: parsed.pod, holder, stale })
  }
  return out
}
