// An expired or soon-expiring certificate: re-issued from the cluster CA (its key given with --ca-key) with the
// same key, subject and extensions (openssl -x509toreq / -copy_extensions), written beside the old one (kept as
// <file>.dr-old-<time>), and the container that uses it restarted. The private key is read into a private
// temporary directory only for the signing request and removed right after.
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { X509Certificate } from 'node:crypto'
import { DrError, relevantLines } from '../../src/core/error.ts'
import { runLocal } from '../../src/transport/local.ts'
import { getFlag } from '../../src/container/command-flags.ts'
import { inspectContainer, processArgv } from '../../src/container/inspect.ts'
import { CERT_WARN_DAYS } from '../../src/check/certs.ts'
import type { Step } from '../../src/runbook/types.ts'
import type { Transport } from '../../src/transport/types.ts'
import type { Diagnosis } from '../../src/doctor/types.ts'

export const RENEW_DAYS = 365
const KEY_FLAG: Record<string, string> = { '--cert-file': '--key-file', '--peer-cert-file': '--peer-key-file', '--tls-cert-file': '--tls-private-key-file', '--etcd-certfile': '--etcd-keyfile' }
const CA_FLAG: Record<string, string> = { '--cert-file': '--trusted-ca-file', '--peer-cert-file': '--peer-trusted-ca-file', '--tls-cert-file': '--client-ca-file', '--etcd-certfile': '--etcd-cafile' }

const days = (pem: Buffer) => (new Date(new X509Certificate(pem).validTo).getTime() - Date.now()) / 86_400_000

async function openssl(args: string[], doing: string) {
  const r = await runLocal(['openssl', ...args], { timeoutMs: 60_000 })
  if (!r.ok) throw new DrError({ code: 'doctor.openssl-failed', message: `openssl failed: ${doing}`, doing, stderr: relevantLines(r.stderr) })
  return r.stdout
}

/**
 * Sign a new certificate for the same key and extensions (pure I/O on local temp files). `subjectAltName` (openssl's
 * form, "IP:1.2.3.4,DNS:x") replaces the old certificate's names: a host that moved to another address.
 */
export async function reissue(oldPem: Buffer, keyPem: Buffer, caPem: Buffer, caKeyFile: string, opts: { subjectAltName?: string } = {}): Promise<Buffer> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dr-renew-'))
  try {
    const f = (n: string) => path.join(dir, n)
    await fsp.writeFile(f('old.pem'), oldPem)
    await fsp.writeFile(f('key.pem'), keyPem, { mode: 0o600 })
    await fsp.writeFile(f('ca.pem'), caPem)
    await openssl(['x509', '-x509toreq', '-in', f('old.pem'), '-signkey', f('key.pem'), '-copy_extensions', 'copyall', '-out', f('req.csr')], 'make a request from the old certificate')
    const serial = '0x1' + [...crypto.getRandomValues(new Uint8Array(15))].map((b) => b.toString(16).padStart(2, '0')).join('')
    // An -extfile extension replaces the copied one of the same kind (OpenSSL 3); every other extension is copied.
    const ext = opts.subjectAltName ? ['-extfile', f('san.ext')] : []
    if (opts.subjectAltName) await fsp.writeFile(f('san.ext'), `subjectAltName=${opts.subjectAltName}\n`)
    await openssl(['x509', '-req', '-in', f('req.csr'), '-CA', f('ca.pem'), '-CAkey', caKeyFile, '-copy_extensions', 'copyall', ...ext, '-set_serial', serial, '-days', String(RENEW_DAYS), '-sha256', '-out', f('new.pem')], 'sign the new certificate')
    await openssl(['verify', '-CAfile', f('ca.pem'), f('new.pem')], 'check the new certificate against the CA (is --ca-key the key of this CA?)')
    return await fsp.readFile(f('new.pem'))
  } finally {
    await fsp.rm(dir, { recursive: true, force: true })
  }
}

/** The refusal when a certificate must be signed and the CA key was not given (or is not there). */
export function noCaKey(what: string, caKey: string | undefined): DrError {
  return new DrError({
    code: 'doctor.no-ca-key',
    message: `${what} but ${caKey ? `the CA key ${caKey} does not exist` : 'no CA key was given'}`,
    hint: 'pass the cluster CA private key: dr doctor --fix --ca-key FILE (RKE: from cluster.rkestate; kubeadm: /etc/kubernetes/pki/ca.key or etcd/ca.key), or renew with rke cert rotate / kubeadm certs renew',
    exit: 'usage',
  })
}

interface CertFix {
  host: string
  path: string
  container: string
  flag: string
}

async function readOrNothing(t: Transport, p: string) {
  return t.readFile(p)
}

export function renewCertSteps<F extends { diagnoses: Diagnosis[] }>(facts: F, caKey: string | undefined): Step<F>[] {
  const fixes: CertFix[] = facts.diagnoses
    .filter((d) => d.id === 'cert-expiry' && d.data)
    .map((d) => {
      const data = d.data as { path: string; usedBy: string }
      const [container, flag] = data.usedBy.split(' ')
      return { host: d.subject, path: data.path, container, flag }
    })
  if (!fixes.length) return []
  if (!caKey || !fs.existsSync(caKey)) throw noCaKey(`${fixes.length} certificate(s) to renew (${fixes.map((f) => `${f.host}:${f.path}`).join(', ')})`, caKey)
  return fixes.map((fx) => {
    let evidence = ''
    return {
      id: `renew-cert-${fx.host}-${path.basename(fx.path, '.pem')}`,
      title: `Renew ${fx.path} on ${fx.host} and restart ${fx.container}`,
      host: fx.host,
      destructive: true,
      async check(ctx) {
        const t = await ctx.conns.get(fx.host)
        const d = days(await readOrNothing(t, fx.path))
        if (d >= CERT_WARN_DAYS) return []
        return [{ host: fx.host, destructive: true, summary: `${fx.path} has ${d.toFixed(1)} days left: re-issue it for ${RENEW_DAYS} days from the CA (same key and names), keep the old one as ${fx.path}.dr-old-<time>, restart ${fx.container}` }]
      },
      async apply(ctx) {
        const t = await ctx.conns.get(fx.host)
        const argv = processArgv(await inspectContainer(t, fx.container))
        const keyFile = getFlag(argv, KEY_FLAG[fx.flag] ?? '')
        const caFile = getFlag(argv, CA_FLAG[fx.flag] ?? '') ?? ctx.inv.etcd.caFile
        if (!keyFile) throw new DrError({ code: 'doctor.no-key-flag', message: `${fx.container} has no ${KEY_FLAG[fx.flag]} flag: cannot find the key of ${fx.path}`, host: fx.host })
        const old = await t.readFile(fx.path)
        const fresh = await reissue(old, await t.readFile(keyFile), await t.readFile(caFile), caKey)
        const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')
        await t.writeFile(`${fx.path}.dr-new`, fresh, { mode: 0o644 })
        await t.rename(fx.path, `${fx.path}.dr-old-${stamp}`)
        await t.rename(`${fx.path}.dr-new`, fx.path)
        await t.$`docker restart ${fx.container}`
        evidence = `new notAfter ${new X509Certificate(fresh).validTo}; old kept as ${fx.path}.dr-old-${stamp}; ${fx.container} restarted`
      },
      async verify(ctx) {
        const t = await ctx.conns.get(fx.host)
        const d = days(await t.readFile(fx.path))
        if (d < CERT_WARN_DAYS) throw new DrError({ code: 'step.unverified', message: `${fx.path} still has ${d.toFixed(1)} days left`, host: fx.host, exit: 'unverified' })
        return evidence
      },
    }
  })
}
