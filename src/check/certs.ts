// Certificate expiry: the files the etcd and kube-apiserver containers are started with, read from the host and
// parsed here (no openssl needed on the host). Pure apart from readCertFile.
import { X509Certificate } from 'node:crypto'
import type { Transport } from '../transport/types.ts'
import { getFlag } from '../container/command-flags.ts'
import { ok, problem, type CheckResult } from './types.ts'

export const CERT_WARN_DAYS = 30
export const CERT_FAIL_DAYS = 7

export interface CertInfo {
  path: string
  /** Which flag of which container named it: "etcd --cert-file". */
  usedBy: string
  subject?: string
  notAfter?: string
  error?: string
}

/** The certificate files a control-plane container's flags name, with the flag that names them (pure). */
export function certFilesOf(kind: 'etcd' | 'apiserver', container: string, argv: readonly string[]): Array<{ path: string; usedBy: string }> {
  const flags = kind === 'etcd' ? ['--cert-file', '--peer-cert-file'] : ['--tls-cert-file', '--etcd-certfile']
  const out: Array<{ path: string; usedBy: string }> = []
  for (const f of flags) {
    const p = getFlag(argv, f)
    if (p && !out.some((o) => o.path === p)) out.push({ path: p, usedBy: `${container} ${f}` })
  }
  return out
}

export async function readCertFile(t: Transport, file: { path: string; usedBy: string }): Promise<CertInfo> {
  try {
    const pem = await t.readFile(file.path)
    const c = new X509Certificate(pem)
    return { ...file, subject: c.subject.replace(/\n/g, ', '), notAfter: new Date(c.validTo).toISOString() }
  } catch (e) {
    return { ...file, error: (e as Error).message.split('\n')[0] }
  }
}

export const daysLeft = (c: CertInfo, now: Date): number => (new Date(c.notAfter!).getTime() - now.getTime()) / 86_400_000

export function certChecks(host: string, certs: CertInfo[], now: Date, renewHint: string): CheckResult[] {
  return certs.map((c) => {
    const cat = c.usedBy.startsWith('etcd') ? 'etcd' : 'kubernetes'
    const ev = [`${c.path}: subject ${c.subject ?? '?'}, notAfter ${c.notAfter ?? '?'} (used by ${c.usedBy})`]
    if (c.error) return problem('warn', cat, 'cert-expiry', host, `cannot read ${c.path}: ${c.error}`, 'check the file and its permissions', ev)
    const d = daysLeft(c, now)
    const fix = `renew ${c.path} (${renewHint}), then restart ${c.usedBy.split(' ')[0]}; \`dr doctor --fix --ca-key FILE\` re-issues it from the CA`
    if (d <= 0) return problem('fail', cat, 'cert-expiry', host, `${c.path} EXPIRED ${(-d).toFixed(1)} days ago (${c.usedBy})`, fix, ev)
    if (d < CERT_FAIL_DAYS) return problem('fail', cat, 'cert-expiry', host, `${c.path} expires in ${d.toFixed(1)} days (${c.usedBy})`, fix, ev)
    if (d < CERT_WARN_DAYS) return problem('warn', cat, 'cert-expiry', host, `${c.path} expires in ${d.toFixed(1)} days (${c.usedBy})`, fix, ev)
    return ok(cat, 'cert-expiry', host, `${c.path} valid for ${Math.floor(d)} more days (${c.usedBy})`)
  })
}
