// Redaction for the diagnostic bundle (pure): private keys, tokens, passwords and Secret values never leave the
// cluster in it. Two passes: a structural one over JSON (env entries, Secret data, kubeconfig fields), then a
// textual one over every file as the safety net (PEM private keys, sensitive flags and env assignments, bearer
// tokens, JWTs, age identities). Each pass counts what it removed, for the manifest.
export const REDACTED = '[REDACTED]'

const SENSITIVE = /(token|passw(or)?d|passwd|secret|credential|api[-_]?key|private[-_]?key|key[-_]data|auth[-_]?key)/i

export interface Redacted<T> {
  value: T
  count: number
}

/** Sensitive-looking names whose value is a file path stay: `--tls-private-key-file=/etc/…` names a file. */
const keepValue = (v: string) => v.startsWith('/') || v === '' || v === REDACTED

export function redactJson<T>(value: T): Redacted<T> {
  let count = 0
  const walk = (v: unknown, key?: string): unknown => {
    if (Array.isArray(v)) return v.map((x) => walk(x))
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>
      // A Secret: every value of data/stringData goes.
      if (o.kind === 'Secret') {
        for (const k of ['data', 'stringData']) {
          if (o[k] && typeof o[k] === 'object') {
            o[k] = Object.fromEntries(Object.keys(o[k] as object).map((x) => (count++, [x, REDACTED])))
          }
        }
      }
      // {name: PASSWORD, value: …} (a pod's env)
      if (typeof o.name === 'string' && typeof o.value === 'string' && SENSITIVE.test(o.name) && !keepValue(o.value)) {
        count++
        o.value = REDACTED
      }
      return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, walk(x, k)]))
    }
    // JSON inside a string (last-applied-configuration annotations carry whole Secrets): redacted the same way.
    if (typeof v === 'string' && v.startsWith('{') && v.endsWith('}')) {
      try {
        const inner = redactJson(JSON.parse(v))
        if (inner.count) {
          count += inner.count
          return JSON.stringify(inner.value)
        }
      } catch {
        // not JSON after all: the text rules below and redactText still apply
      }
    }
    if (typeof v === 'string' && key && SENSITIVE.test(key) && !keepValue(v)) {
      count++
      return REDACTED
    }
    return v
  }
  const copy = walk(structuredClone(value)) as T
  return { value: copy, count }
}

const RULES: Array<[RegExp, (...m: string[]) => string]> = [
  // PEM private keys, also inside JSON strings where newlines are written \n.
  [/-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?-----END \1PRIVATE KEY-----/g, (_m, kind) => `-----BEGIN ${kind}PRIVATE KEY----- ${REDACTED} -----END ${kind}PRIVATE KEY-----`],
  [/AGE-SECRET-KEY-1[0-9A-Z]+/g, () => `AGE-SECRET-KEY-${REDACTED}`],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g, (_m, kind) => `${kind} ${REDACTED}`],
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, () => REDACTED],
  // --some-token=VALUE, --password VALUE (flags; etcd's --initial-cluster-token is a name, not a secret); NAME_PASSWORD=VALUE (env); token: VALUE (yaml, logs)
  [/(--?[A-Za-z0-9_.-]*(?:token|passw(?:or)?d|passwd|secret|credential|api[-_]?key)[A-Za-z0-9_.-]*)(=|\s+)("?)([^\s",\\]+)/gi, (m, flag, sep, q, v) => (v.startsWith('/') || v.startsWith('-') || /initial-cluster-token/.test(flag) ? m : `${flag}${sep}${q}${REDACTED}`)],
  [/\b([A-Za-z0-9_]*(?:TOKEN|PASSWORD|PASSWD|SECRET|CREDENTIAL|API_KEY|PRIVATE_KEY)[A-Za-z0-9_]*)=([^\s",\\]+)/g, (m, name, v) => (v.startsWith('/') ? m : `${name}=${REDACTED}`)],
  [/\b((?:token|password|passwd|secret|client-key-data|client-secret)\s*:\s*)("?)([^\s",]+)/gi, (m, k, q, v) => (v === REDACTED || v.startsWith('/') ? m : `${k}${q}${REDACTED}`)],
]

export function redactText(text: string): Redacted<string> {
  let count = 0
  let out = text
  for (const [re, fn] of RULES) {
    out = out.replace(re, (...args) => {
      const m = args[0] as string
      const r = fn(...(args.slice(0, -2) as string[]))
      if (r !== m) count++
      return r
    })
  }
  return { value: out, count }
}
