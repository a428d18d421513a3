// One shell command per host gathers every fact the node checks need, in one round trip: the clock, docker,
// the etcd data filesystem, swap, listening ports, the containers and etcd's leader-change counter. The
// parsing is pure (unit-tested on recorded output); the checks in host-checks.ts read the parsed facts.
// The clock is read first and again last: the host read it at some point between dr sending the command and dr
// getting the answer minus the script's own run time, so one command measures skew as well as a `date` alone.
import { quote } from '../transport/shell.ts'

export interface HostFacts {
  /** The host's clock (ms since the epoch) and dr's clock around the command: skew is measured against the midpoint. */
  clockMs?: number
  localBeforeMs: number
  localAfterMs: number
  /** The runtime asked: docker's engine, or containerd (kind nodes). Its version when it answered, else the error. */
  runtime: 'docker' | 'containerd'
  runtimeVersion?: string
  runtimeError?: string
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
  /** The host's own addresses (`hostname -I`), undefined when it could not say. */
  addresses?: string[]
  raw: string
}

export interface FactsSpec {
  dataDir: string
  /** The host's container runtime (component/runtime.ts): docker, or containerd asked through `ctr` (kind). */
  runtime?: 'docker' | 'containerd'
  etcd?: { clientPort: number; ca: string; cert: string; key: string }
}

const section = (name: string) => `echo '@@${name}'`

// Every process the script starts costs a fork and an exec on the host, and on a busy host each one is tens of
// milliseconds: the clock and /proc/swaps are read with bash builtins (bash ≥ 5 has $EPOCHREALTIME), df and ss
// are parsed here instead of through tail and awk, and docker is asked for its containers only when it answered.
const CLOCK = 'echo "${EPOCHREALTIME:-$(date +%s.%N)}"'

// docker: its CLI is a large Go binary, and `docker version` + `docker ps` were two thirds of the script's cost on
// a host (about 25 ms of CPU for each). The Engine API on its socket answers both through one curl. The CLI
// stays for what curl cannot do as docker would: DOCKER_HOST set, a socket we may not write (the CLI names the
// permission problem), no curl. With no socket and no DOCKER_HOST there is no engine to ask.
const SOCK = '/var/run/docker.sock'
const DOCKER_CLI = `if v=$(docker version --format '{{.Server.Version}}' 2>&1); then echo "$v"; ${section('ps')}; docker ps -a --no-trunc --format '{{.ID}}\\t{{.Names}}\\t{{.State}}\\t{{.Status}}\\t{{.Image}}' 2>/dev/null; else echo "$v"; fi`
const DOCKER = [
  `if [ -z "\${DOCKER_HOST:-}" ] && [ ! -S ${SOCK} ]; then echo 'docker is not running here: no ${SOCK}'`,
  `elif [ -z "\${DOCKER_HOST:-}" ] && [ -w ${SOCK} ] && command -v curl >/dev/null; then ${section('dockerapi')}; curl -sS --max-time 10 --unix-socket ${SOCK} -w '\\n' http://docker/version 'http://docker/containers/json?all=1' 2>&1`,
  `else ${DOCKER_CLI}; fi`,
].join('\n')

// containerd (kind): ctr waits 10 s by default for a containerd that is not there (a stale socket file stays).
const CONTAINERD = 'ctr --connect-timeout 3s version 2>&1'

/** The script run on each host (pure), under bash. Every part fails soft: a missing tool leaves its section empty. */
export function factsScript(s: FactsSpec): string {
  const parts = [
    section('time'), CLOCK,
    ...(s.runtime === 'containerd' ? [section('containerd'), CONTAINERD] : [section('docker'), DOCKER]),
    section('df'), `d=${quote(s.dataDir)}; [ -e "$d" ] || d=/; df -P -B1 "$d" 2>&1`,
    section('swap'), '[ -r /proc/swaps ] && { read -r _; while read -r l; do echo "$l"; done; } < /proc/swaps',
    section('listen'), 'ss -ltnH 2>/dev/null || netstat -ltn 2>/dev/null',
    section('addrs'), 'hostname -I 2>/dev/null',
  ]
  if (s.etcd) {
    const e = s.etcd
    parts.push(section('metrics'),
      `curl -sS --max-time 3 --cacert ${quote(e.ca)} --cert ${quote(e.cert)} --key ${quote(e.key)} https://127.0.0.1:${e.clientPort}/metrics 2>&1 | grep -E '^etcd_server_leader_changes_seen_total|^curl' || true`)
  }
  parts.push(section('timeend'), CLOCK, section('end'))
  return parts.join('\n')
}

/** A clock reading: $EPOCHREALTIME or `date +%s.%N` (seconds, a '.' or ',' by locale), or nanoseconds → ms. */
export function clockReadingMs(text: string | undefined): number | undefined {
  const t = text?.trim() ?? ''
  const frac = /^(\d{9,})[.,](\d+)$/.exec(t)
  if (frac) return Number(frac[1]) * 1000 + Number(frac[2].padEnd(3, '0').slice(0, 3))
  return /^\d{16,}$/.test(t) ? Number(BigInt(t) / 1_000_000n) : undefined
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

interface EngineContainer {
  Id: string
  Names?: string[]
  State: string
  Status: string
  Image: string
}

/** The Engine API's two answers, one line each: GET /version, then GET /containers/json?all=1 (as `docker ps -a`). */
function engineApiAnswer(lines: string[], f: HostFacts) {
  const [version, list] = lines.map((l) => {
    try {
      return l.startsWith('{') || l.startsWith('[') ? (JSON.parse(l) as unknown) : undefined
    } catch (e) {
      // A line cut short (curl's --max-time) is no answer; the text itself is kept below as the evidence.
      return void e
    }
  })
  const v = (version as { Version?: string } | undefined)?.Version
  if (!v || !Array.isArray(list)) {
    f.runtimeError = lines.join('\n').trim() || 'the docker engine gave no answer on its socket'
    return
  }
  f.runtimeVersion = v
  for (const c of list as EngineContainer[]) {
    // Names holds the container's own "/name" and, for legacy links, "/other/alias" entries.
    const name = c.Names?.find((n) => n.split('/').length === 2)?.slice(1)
    if (name) f.containers.push({ id: c.Id, name, state: c.State, status: c.Status, image: c.Image })
  }
}

export function parseFacts(raw: string, localBeforeMs: number, localAfterMs: number): HostFacts {
  const s = sections(raw)
  const get = (k: string) => s.get(k) ?? []
  const f: HostFacts = { localBeforeMs, localAfterMs, runtime: s.has('containerd') ? 'containerd' : 'docker', swap: get('swap'), listening: [], containers: [], raw }
  const [t0, t1] = [clockReadingMs(get('time')[0]), clockReadingMs(get('timeend')[0])]
  f.clockMs = t0
  // The script's own run time after the first clock read is not uncertainty: take it off the round trip.
  if (t0 !== undefined && t1 !== undefined && t1 >= t0) f.localAfterMs = Math.max(localBeforeMs, localAfterMs - (t1 - t0))
  if (s.has('containerd')) {
    // `ctr version`: a Client: block, then a Server: block only when containerd answered.
    const out = get('containerd')
    const server = out.findIndex((l) => l.trim() === 'Server:')
    const v = server >= 0 ? /^\s*Version:\s*(\S+)/.exec(out[server + 1] ?? '')?.[1] : undefined
    if (v) f.runtimeVersion = v
    else f.runtimeError = out.filter((l) => !/^\s|^Client:/.test(l)).join('\n').trim() || 'containerd gave no answer (ctr version)'
  } else if (s.has('dockerapi')) engineApiAnswer(get('dockerapi'), f)
  else {
    const dv = get('docker').join('\n').trim()
    if (/^\d+\.\d+/.test(dv)) f.runtimeVersion = dv
    else f.runtimeError = dv || 'docker gave no answer'
  }
  // df's header, then its line (a long device name can wrap it onto two lines: the fields are counted from the end).
  const df = get('df').join(' ').split(/\s+/).slice(-6)
  if (df && df.length >= 6 && /^\d+$/.test(df[1])) {
    f.df = { filesystem: df[0], sizeBytes: Number(df[1]), availBytes: Number(df[3]), usedPercent: Number(df[4].replace('%', '')), mount: df[5] }
  }
  // ss -ltnH and netstat -ltn both put the local address in the fourth column (a bare address: recorded output).
  for (const line of get('listen')) {
    const fields = line.trim().split(/\s+/)
    const m = /:(\d+)$/.exec(fields.length >= 4 ? fields[3] : fields[0])
    if (m) f.listening.push(Number(m[1]))
  }
  f.listening = [...new Set(f.listening)].sort((a, b) => a - b)
  for (const line of get('ps')) {
    const [id, name, state, status, image] = line.split('\t')
    if (name) f.containers.push({ id, name, state, status, image })
  }
  const addrs = get('addrs').join(' ').split(/\s+/).filter((a) => /^[\d.]+$|:/.test(a))
  if (addrs.length) f.addresses = addrs
  const lc = get('metrics').find((l) => l.startsWith('etcd_server_leader_changes_seen_total'))
  if (lc) f.leaderChanges = Number(lc.split(/\s+/)[1])
  return f
}
