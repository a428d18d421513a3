// One shell command per host gathers every fact the node checks need, in one round trip: the clock, docker,
// the etcd data filesystem, swap, listening ports, the containers and etcd's leader-change counter. The
// parsing is pure (unit-tested on recorded output); the checks in host-checks.ts read the parsed facts.
import { quote } from '../transport/shell.ts'

export interface HostFacts {
  /** The host's clock (ms since the epoch) and dr's clock around the command: skew is measured against the midpoint. */
  clockMs?: number
  localBeforeMs: number
  localAfterMs: number
  dockerVersion?: string
  dockerError?: string
  /** df of the etcd data dir (or / when it does not exist). */
  df?: { filesystem: string; sizeBytes: number; availBytes: number; usedPercent: number; mount: string }
  /** Active swap devices (lines of /proc/swaps after the header). */
  swap: string[]
  /** TCP ports listening (any address). */
  listening: number[]
  /** docker ps -a: name → state and status text. */
  containers: Array<{ name: string; state: string; status: string; id: string; image: string }>
  /** etcd_server_leader_changes_seen_total, when the member's metrics answered. */
  leaderChanges?: number
  raw: string
}

export interface FactsSpec {
  dataDir: string
  etcd?: { clientPort: number; ca: string; cert: string; key: string }
}

const section = (name: string) => `echo '@@${name}'`

/** The script run on each host (pure). Every part fails soft: a missing tool leaves its section empty. */
export function factsScript(s: FactsSpec): string {
  const parts = [
    section('docker'), `docker version --format '{{.Server.Version}}' 2>&1 || true`,
    section('df'), `d=${quote(s.dataDir)}; [ -e "$d" ] || d=/; df -P -B1 "$d" 2>&1 | tail -n 1`,
    section('swap'), 'tail -n +2 /proc/swaps 2>/dev/null',
    section('listen'), '(ss -ltnH 2>/dev/null || netstat -ltn 2>/dev/null) | awk \'{print $4}\'',
    section('ps'), `docker ps -a --no-trunc --format '{{.ID}}\\t{{.Names}}\\t{{.State}}\\t{{.Status}}\\t{{.Image}}' 2>/dev/null`,
  ]
  if (s.etcd) {
    const e = s.etcd
    parts.push(section('metrics'),
      `curl -sS --max-time 3 --cacert ${quote(e.ca)} --cert ${quote(e.cert)} --key ${quote(e.key)} https://127.0.0.1:${e.clientPort}/metrics 2>&1 | grep -E '^etcd_server_leader_changes_seen_total|^curl' || true`)
  }
  parts.push(section('end'))
  return parts.join('\n')
}

function sections(raw: string): Map<string, string[]> {
  const m = new Map<string, string[]>()
  let cur: string[] | undefined
  for (const line of raw.split('\n')) {
    const s = /^@@(\w+)$/.exec(line)
    if (s) {
      cur = []
      m.set(s[1], cur)
    } else if (cur && line.trim() !== '') cur.push(line)
  }
  return m
}

export function parseFacts(raw: string, localBeforeMs: number, localAfterMs: number): HostFacts {
  const s = sections(raw)
  const get = (k: string) => s.get(k) ?? []
  const f: HostFacts = { localBeforeMs, localAfterMs, swap: get('swap'), listening: [], containers: [], raw }
  const ns = get('time')[0]
  if (ns && /^\d{16,}$/.test(ns)) f.clockMs = Number(BigInt(ns) / 1_000_000n)
  const dv = get('docker').join('\n').trim()
  if (/^\d+\.\d+/.test(dv)) f.dockerVersion = dv
  else f.dockerError = dv || 'docker gave no answer'
  const df = get('df')[0]?.split(/\s+/)
  if (df && df.length >= 6 && /^\d+$/.test(df[1])) {
    f.df = { filesystem: df[0], sizeBytes: Number(df[1]), availBytes: Number(df[3]), usedPercent: Number(df[4].replace('%', '')), mount: df[5] }
  }
  for (const addr of get('listen')) {
    const m = /:(\d+)$/.exec(addr)
    if (m) f.listening.push(Number(m[1]))
  }
  f.listening = [...new Set(f.listening)].sort((a, b) => a - b)
  for (const line of get('ps')) {
    const [id, name, state, status, image] = line.split('\t')
    if (name) f.containers.push({ id, name, state, status, image })
  }
  const lc = get('metrics').find((l) => l.startsWith('etcd_server_leader_changes_seen_total'))
  if (lc) f.leaderChanges = Number(lc.split(/\s+/)[1])
  return f
}
