// Host-key verification the way OpenSSH does it: known_hosts lines (plain patterns, `[host]:port`, hashed
// `|1|salt|hash` entries, `@revoked`) or pinned SHA256 fingerprints. Pure functions over text and key blobs.
import { createHash, createHmac, randomBytes } from 'node:crypto'

export interface KnownHostEntry {
  marker?: '@cert-authority' | '@revoked'
  patterns: string
  keyType: string
  key: Buffer
  /** 1-based line in the file. */
  line: number
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = []
  text.split('\n').forEach((rawLine, i) => {
    const line = rawLine.trim()
    if (!line || line.startsWith('#')) return
    const fields = line.split(/\s+/)
    let marker: KnownHostEntry['marker']
    if (fields[0] === '@cert-authority' || fields[0] === '@revoked') marker = fields.shift() as KnownHostEntry['marker']
    const [patterns, keyType, b64] = fields
    if (!patterns || !keyType || !b64) return
    const key = Buffer.from(b64, 'base64')
    if (key.length === 0) return
    out.push({ marker, patterns, keyType, key, line: i + 1 })
  })
  return out
}

/** What known_hosts calls this host: `addr` on port 22, `[addr]:port` otherwise. */
export const hostToken = (address: string, port: number): string => (port === 22 ? address : `[${address}]:${port}`)

function glob(pattern: string, s: string): boolean {
  const re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i')
  return re.test(s)
}

/** Does a known_hosts host field (comma-separated patterns, `!negations`, or one hashed entry) name this host? */
export function patternsMatch(patterns: string, token: string): boolean {
  if (patterns.startsWith('|1|')) {
    const [, , salt, hash] = patterns.split('|')
    if (!salt || !hash) return false
    const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(token).digest()
    return mac.equals(Buffer.from(hash, 'base64'))
  }
  let matched = false
  for (const p of patterns.split(',')) {
    if (p.startsWith('!')) {
      if (glob(p.slice(1), token)) return false
    } else if (glob(p, token)) matched = true
  }
  return matched
}

/** `SHA256:…` as `ssh-keygen -l` prints it (base64 without padding). */
export const fingerprint = (key: Buffer): string =>
  'SHA256:' + createHash('sha256').update(key).digest('base64').replace(/=+$/, '')

/** The key type recorded inside an SSH public-key blob (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`). */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) return 'unknown'
  const n = key.readUInt32BE(0)
  return key.subarray(4, 4 + n).toString('latin1')
}

export type HostKeyVerdict =
  | { status: 'known'; line?: number }
  | { status: 'unknown' }
  | { status: 'changed'; known: Array<{ keyType: string; fingerprint: string; line?: number }> }
  | { status: 'revoked'; line: number }

/** Check a host's key against known_hosts entries for `token` (see hostToken). */
export function checkKnownHosts(entries: KnownHostEntry[], token: string, key: Buffer): HostKeyVerdict {
  const forHost = entries.filter((e) => e.marker !== '@cert-authority' && patternsMatch(e.patterns, token))
  const revoked = forHost.find((e) => e.marker === '@revoked' && e.key.equals(key))
  if (revoked) return { status: 'revoked', line: revoked.line }
  const plain = forHost.filter((e) => !e.marker)
  const same = plain.find((e) => e.key.equals(key))
  if (same) return { status: 'known', line: same.line }
  // Any recorded key for this host that is not the offered one is treated as a change — also a key of another
  // type: the client asks for the recorded types first (preferredHostKeyAlgorithms), so a server that no longer
  // offers them is suspicious, not new.
  if (plain.length) return { status: 'changed', known: plain.map((e) => ({ keyType: e.keyType, fingerprint: fingerprint(e.key), line: e.line })) }
  return { status: 'unknown' }
}

/** Check a host's key against pinned fingerprints (Host.hostKeys). */
export function checkPinned(pins: string[], key: Buffer): HostKeyVerdict {
  const fp = fingerprint(key)
  const norm = (s: string) => s.trim().replace(/=+$/, '')
  if (pins.some((p) => norm(p) === fp)) return { status: 'known' }
  return { status: 'changed', known: pins.map((p) => ({ keyType: 'pinned', fingerprint: p })) }
}

/** A known_hosts line for this key; hashed like `ssh-keygen -H` when asked. */
export function knownHostsLine(token: string, key: Buffer, opts: { hashed?: boolean } = {}): string {
  let name = token
  if (opts.hashed) {
    const salt = randomBytes(20)
    name = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(token).digest('base64')}`
  }
  return `${name} ${keyTypeOf(key)} ${key.toString('base64')}`
}

const ALGORITHMS_FOR: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
}
export const DEFAULT_HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
]

/** Ask first for the key types known_hosts already holds for this host, as OpenSSH does. */
export function preferredHostKeyAlgorithms(entries: KnownHostEntry[], token: string): string[] {
  const known = new Set(entries.filter((e) => !e.marker && patternsMatch(e.patterns, token)).flatMap((e) => ALGORITHMS_FOR[e.keyType] ?? []))
  return [...DEFAULT_HOST_KEY_ALGORITHMS.filter((a) => known.has(a)), ...DEFAULT_HOST_KEY_ALGORITHMS.filter((a) => !known.has(a))]
}
