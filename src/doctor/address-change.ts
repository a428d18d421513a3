// A host whose address really changed (it will keep the new one): the pure parts of its fix. Every old address
// in a component's flags becomes the new one — dotted (URLs, --advertise-address) and RKE's dashed form in file
// names (kube-etcd-172-30-0-11.pem) — never a longer address that merely starts with the old one; and the rule
// that decides whether the other members can carry the change (etcd's quorum is counted over the whole
// membership, and the moved member is not part of it until it is fixed).
import { parseFlags } from '../container/command-flags.ts'
import { quorumOf } from '../inventory/site-loss.ts'

export interface AddressMove {
  host: string
  /** The address etcd still advertises. */
  from: string
  /** The inventory's address: where the host is now. */
  to: string
  /** The member (hex id, as etcdctl prints it) and its name, when the member list was read. */
  memberId?: string
  memberName?: string
}

const dashes = (ip: string) => ip.replaceAll('.', '-')
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** `old` as a whole address, dotted or dashed: not part of a longer address (no digit, or digit and separator, beside it). */
function addressPattern(old: string): RegExp {
  const dotted = `(?<![\\d.])${escape(old)}(?!\\d|\\.\\d)`
  const dashed = `(?<!\\d|\\d-)${escape(dashes(old))}(?!\\d|-\\d)`
  return new RegExp(`${dotted}|${dashed}`, 'g')
}

/** A word with every `from` replaced by `to`, in the form it is written (dotted or dashed). */
export function replaceAddress(word: string, from: string, to: string): string {
  return word.replace(addressPattern(from), (m) => (m === from ? to : dashes(to)))
}

export const carriesAddress = (word: string, address: string): boolean => addressPattern(address).test(word)

/**
 * The flag edits that replace every `from` in an argument list (executable first, as processArgv gives it):
 * `--flag` → new value, for each flag whose value carries the old address. Pure.
 */
export function addressEdits(argv: readonly string[], from: string, to: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const f of parseFlags(argv.slice(1))) {
    if (f.value === undefined || !carriesAddress(f.value, from)) continue
    out[`${f.dashes}${f.name}`] = replaceAddress(f.value, from, to)
  }
  return out
}

/** Does any word of the argument list still carry the old address? */
export const argvCarries = (argv: readonly string[], address: string): boolean => argv.some((w) => carriesAddress(w, address))

/** Subject alternative names as node's X509Certificate prints them ("IP Address:1.2.3.4, DNS:x"), parsed. */
export function parseSans(text: string | undefined): { ips: string[]; dns: string[] } {
  const ips: string[] = []
  const dns: string[] = []
  for (const part of (text ?? '').split(/,\s*/)) {
    const m = /^(IP Address|DNS):(.+)$/.exec(part.trim())
    if (m?.[1] === 'IP Address') ips.push(m[2])
    else if (m?.[1] === 'DNS') dns.push(m[2])
  }
  return { ips, dns }
}

/** An openssl subjectAltName value with `from` replaced by `to` among the IPs (added when absent). */
export function sansMoved(sans: { ips: string[]; dns: string[] }, from: string, to: string): string {
  const ips = [...new Set([...sans.ips.map((ip) => (ip === from ? to : ip)), to])]
  return [...ips.map((ip) => `IP:${ip}`), ...sans.dns.map((d) => `DNS:${d}`)].join(',')
}

export interface MemberHealth {
  id: string
  /** Answers a linearizable read through itself. */
  healthy: boolean
}

/**
 * Can the cluster change a member's peer URLs and restart it while the moved members stay unreachable? Quorum is
 * counted over the whole member list; only healthy members that did not move count. Pure.
 */
export function quorumWithoutMoved(memberIds: string[], health: MemberHealth[], movedIds: string[]): { ok: boolean; healthy: number; needed: number; total: number } {
  const total = memberIds.length
  const needed = quorumOf(total)
  const healthy = health.filter((h) => h.healthy && memberIds.includes(h.id) && !movedIds.includes(h.id)).length
  return { ok: total > 0 && healthy >= needed, healthy, needed, total }
}

/** URLs with every moved address replaced (the etcd servers an apiserver should name once the moves are fixed). */
export function urlsAfterMoves(urls: string[], moves: Array<Pick<AddressMove, 'from' | 'to'>>): string[] {
  return urls.map((u) => moves.reduce((x, m) => replaceAddress(x, m.from, m.to), u))
}
