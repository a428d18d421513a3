// Decide whether to trust the key a server presents: pinned fingerprints, else known_hosts; record a new key only
// when the inventory says acceptNewHostKeys. A changed key is always refused.
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { DrError } from '../core/error.ts'
import {
  checkKnownHosts,
  checkPinned,
  fingerprint,
  hostToken,
  keyTypeOf,
  knownHostsLine,
  parseKnownHosts,
  type KnownHostEntry,
} from './known-hosts.ts'

export interface HostKeyPolicy {
  host: string
  address: string
  port: number
  /** Pinned SHA256 fingerprints; when set, known_hosts is not consulted. */
  hostKeys: string[]
  knownHosts?: string
  acceptNewHostKeys: boolean
}

export const defaultKnownHosts = () => path.join(os.homedir(), '.ssh', 'known_hosts')

// A fan-out reads known_hosts twice per host (the algorithms to offer, then the key presented): read and parsed
// once while the file stays as it was (its size and mtime: acceptNewHostKeys appends to it). Synchronous: a small
// file, and promise-based reads cost the fan-out more than the read itself (a profile of `dr check` on 30 hosts).
const knownHostsCache = new Map<string, { size: number; mtimeMs: number; entries: KnownHostEntry[] }>()

export async function readKnownHosts(file: string): Promise<KnownHostEntry[]> {
  try {
    const st = fs.statSync(file)
    const hit = knownHostsCache.get(file)
    if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.entries
    const entries = parseKnownHosts(fs.readFileSync(file, 'utf8'))
    knownHostsCache.set(file, { size: st.size, mtimeMs: st.mtimeMs, entries })
    return entries
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw e
  }
}

/** Resolves when the key is trusted; throws ssh.hostkey-unknown / ssh.hostkey-changed otherwise. */
export async function verifyHostKey(p: HostKeyPolicy, key: Buffer): Promise<void> {
  const fp = fingerprint(key)
  const type = keyTypeOf(key)
  const token = hostToken(p.address, p.port)
  const file = p.knownHosts ?? defaultKnownHosts()
  const verdict = p.hostKeys.length ? checkPinned(p.hostKeys, key) : checkKnownHosts(await readKnownHosts(file), token, key)
  if (verdict.status === 'known') return
  if (verdict.status === 'changed' || verdict.status === 'revoked') {
    const was =
      verdict.status === 'revoked'
        ? `it is marked @revoked in ${file} line ${verdict.line}`
        : p.hostKeys.length
          ? `the inventory pins ${verdict.known.map((k) => k.fingerprint).join(', ')}`
          : `${file} records ${verdict.known.map((k) => `${k.keyType} ${k.fingerprint} (line ${k.line})`).join(', ')}`
    throw new DrError({
      code: 'ssh.hostkey-changed',
      host: p.host,
      doing: `verify the host key of ${token}`,
      message: `${p.host}: the host key of ${token} has CHANGED — it now presents ${type} ${fp}, but ${was}. Refusing to connect: this is what a man-in-the-middle looks like`,
      hint: `if the host was really re-installed, confirm the new fingerprint out of band (on the host: \`ssh-keygen -lf /etc/ssh/ssh_host_${type.replace(/^ssh-|-sha2-nistp\d+$/g, '')}_key.pub\`), then ${p.hostKeys.length ? 'update hosts.' + p.host + '.hostKeys' : `remove the old entry with \`ssh-keygen -R '${token}' -f ${file}\``}`,
    })
  }
  // Unknown.
  if (!p.hostKeys.length && p.acceptNewHostKeys) {
    await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 })
    await fsp.appendFile(file, knownHostsLine(token, key) + '\n', { mode: 0o600 })
    return
  }
  throw new DrError({
    code: 'ssh.hostkey-unknown',
    host: p.host,
    doing: `verify the host key of ${token}`,
    message: `${p.host}: the host key of ${token} is not known — it presents ${type} ${fp}${p.hostKeys.length ? ', which is not among the pinned hostKeys' : ` and ${file} has no entry for it`}`,
    hint:
      `check the fingerprint on the host (\`ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub\`), then trust it: ` +
      `\`ssh-keyscan -p ${p.port} ${p.address} >> ${file}\`, or add \`hostKeys: ["${fp}"]\` under hosts.${p.host}, ` +
      `or set \`ssh.acceptNewHostKeys: true\` once to record it in ${file}`,
  })
}
