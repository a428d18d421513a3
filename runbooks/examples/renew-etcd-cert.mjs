// Renew the etcd member certificate of one host: a new key and certificate signed by the cluster CA (with
// openssl, on this machine — the CA key never goes to a host), installed on every host that holds a copy (RKE puts
// every member's certificate on every etcd and controlplane host), then etcd restarted on the host so it serves
// it, and the member proven healthy with it. The old files are kept beside the new ones as *.dr-old-<time>.
//
//   dr run runbooks/examples/renew-etcd-cert.mjs --plan -- --host master3 --ca-cert pki/kube-ca.pem --ca-key pki/kube-ca-key.pem
//   dr run runbooks/examples/renew-etcd-cert.mjs --yes  -- --host master3 --ca-cert … --ca-key … --days 365 --renew-within 30
//
// It renews only a certificate that expires within --renew-within days (default 30): a re-run, or a run resumed
// after a crash, does what is left and nothing more.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto'

export const title = 'Renew the etcd member certificate of one host'

export async function assess({ args, inv, error, etcdFiles, on, hostsWithRole }) {
  const need = (name, flag) => {
    if (!args[name]) throw error({ code: 'bad-argument', message: `${flag} is required`, hint: 'usage: -- --host NAME --ca-cert FILE --ca-key FILE [--days 365] [--renew-within 30]', exit: 'usage' })
    return String(args[name])
  }
  const host = need('host', '--host')
  if (!inv.hosts[host]?.roles.includes('etcd')) throw error({ code: 'bad-argument', message: `${host} is not an etcd host in the inventory`, hint: `etcd hosts: ${hostsWithRole('etcd').join(', ')}`, exit: 'usage' })
  const caCert = path.resolve(need('caCert', '--ca-cert'))
  const caKey = path.resolve(need('caKey', '--ca-key'))
  for (const f of [caCert, caKey]) if (!fs.existsSync(f)) throw error({ code: 'bad-argument', message: `${f} does not exist`, hint: 'give the cluster CA certificate and key files on this machine', exit: 'usage' })
  const days = Number(args.days ?? 365)
  const renewWithin = Number(args.renewWithin ?? 30)
  if (!(days > 0) || !(renewWithin >= 0)) throw error({ code: 'bad-argument', message: '--days must be positive and --renew-within at least 0', exit: 'usage' })
  const files = etcdFiles(host)
  // Every etcd and controlplane host that holds a copy of this member's certificate gets the new one.
  const candidates = [...new Set([...hostsWithRole('etcd'), ...hostsWithRole('controlplane')])]
  const found = await on(candidates)`test -f ${files.cert}`.nothrow()
  const holders = found.filter((r) => r.ok).map((r) => r.host)
  if (!holders.includes(host)) throw error({ code: 'no-cert', message: `${files.cert} does not exist on ${host}`, host, hint: 'check etcd.certFile in the inventory', exit: 'usage' })
  return { host, caCert, caKey, days, renewWithin, files, holders }
}

export function describe({ facts }) {
  return [`${facts.files.cert} on ${facts.holders.join(', ')}; renewed when it expires within ${facts.renewWithin} days; the new one is valid for ${facts.days} days`]
}

const serialOf = (s) => s.replace(/^serial=/i, '').replace(/^0+/, '').toUpperCase()
const daysLeft = (cert) => (Date.parse(cert.validTo) - Date.now()) / 86_400_000

/** The certificate and key a host holds, and whether they are a fresh, matching pair. */
async function readPair({ on }, host, files, renewWithin) {
  const cert = new X509Certificate(await on(host).readFile(files.cert))
  const key = await on(host).readFile(files.key)
  const matches = cert.checkPrivateKey(createPrivateKey(key))
  return { host, cert, key, matches, fresh: matches && daysLeft(cert) > renewWithin }
}

/** What the certificate etcd serves on the host's client port (a TLS handshake from the host itself). */
async function servedSerial({ on, inv }, host) {
  const r = await on(host)`openssl s_client -connect ${`127.0.0.1:${inv.etcd.clientPort}`} -servername localhost </dev/null 2>/dev/null | openssl x509 -noout -serial`.nothrow()
  return r.ok ? serialOf(r.stdout.trim()) : undefined
}

/** A new key and certificate with the old one's subject and names, signed by the CA, in a private temp dir. */
async function sign({ $, facts }, old) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-renew-'))
  try {
    const san = old.subjectAltName.split(', ').map((s) => s.replace(/^IP Address:/, 'IP:')).join(',')
    fs.writeFileSync(path.join(dir, 'ext'), `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${san}\n`)
    const subject = '/' + old.subject.split('\n').join('/')
    const [key, csr, crt] = ['key.pem', 'csr.pem', 'cert.pem'].map((f) => path.join(dir, f))
    await $`openssl req -new -newkey rsa:2048 -nodes -keyout ${key} -out ${csr} -subj ${subject}`.quiet()
    await $`openssl x509 -req -in ${csr} -CA ${facts.caCert} -CAkey ${facts.caKey} -set_serial ${'0x' + randomBytes(16).toString('hex').replace(/^[89a-f]/, '1')} -days ${facts.days} -sha256 -extfile ${path.join(dir, 'ext')} -out ${crt}`.quiet()
    return { cert: fs.readFileSync(crt), key: fs.readFileSync(key) }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

export default function steps(ctx) {
  const { host, files, holders, renewWithin } = ctx.facts
  const stale = async () => {
    const pairs = await ctx.parallel(holders, (h) => readPair(ctx, h, files, renewWithin))
    const wanted = pairs.find((p) => p.host === host)
    return pairs.filter((p) => !p.fresh || !p.cert.raw.equals(wanted.cert.raw))
  }
  return [
    {
      id: 'install-cert',
      title: `Sign a new certificate for etcd on ${host} and install it where it is held`,
      host,
      async check() {
        return (await stale()).map((p) => ({
          host: p.host,
          summary: `${p.host}: replace ${files.cert} (serial ${serialOf(p.cert.serialNumber)}, expires ${p.cert.validTo}${p.matches ? '' : ', does not match its key'}) and its key`,
        }))
      },
      async apply() {
        const target = await readPair(ctx, host, files, renewWithin)
        // A resumed run whose target already has its new pair copies that one; otherwise sign a new one.
        const pair = target.fresh ? { cert: Buffer.from(target.cert.toString()), key: target.key } : await sign(ctx, target.cert)
        const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')
        await ctx.parallel(await stale(), async ({ host: h }) => {
          const at = ctx.on(h)
          // On disk before they replace the old pair, and the renames after: after a power cut etcd finds either
          // the old pair or the new one, never an empty certificate.
          await at.writeFile(`${files.key}.dr-new`, pair.key, { mode: 0o600, durable: true })
          await at.writeFile(`${files.cert}.dr-new`, pair.cert, { mode: 0o644, durable: true })
          await at`cp -p ${files.cert} ${`${files.cert}.dr-old-${stamp}`} && cp -p ${files.key} ${`${files.key}.dr-old-${stamp}`}`
          const dirs = [...new Set([path.dirname(files.key), path.dirname(files.cert)])]
          await at`mv ${`${files.key}.dr-new`} ${files.key} && mv ${`${files.cert}.dr-new`} ${files.cert} && { sync -- ${dirs} 2>/dev/null || sync; }`
        })
      },
      async verify() {
        const left = await stale()
        if (left.length) return false
        const c = new X509Certificate(await ctx.on(host).readFile(files.cert))
        return `serial ${serialOf(c.serialNumber)}, valid until ${c.validTo}, on ${holders.join(', ')}`
      },
    },
    {
      id: 'restart-etcd',
      title: `Restart etcd on ${host} so every connection uses the new certificate`,
      host,
      destructive: true,
      async check() {
        const target = await readPair(ctx, host, files, renewWithin)
        if (!target.fresh) return `docker restart ${ctx.inv.etcd.container} on ${host} once the new certificate is in place`
        // etcd reads its certificate files on each new TLS handshake, but connections it already holds (its peers')
        // keep the old one: a restart after the files changed makes every connection use the new one.
        const installed = Number(await ctx.on(host)`stat -c %Y ${files.cert}`.text()) * 1000
        const c = await ctx.inspect(host, ctx.inv.etcd.container)
        const started = Date.parse(c?.State?.StartedAt ?? '')
        return c?.State?.Running && started > installed ? [] : `docker restart ${ctx.inv.etcd.container} on ${host} (running since ${c?.State?.StartedAt ?? 'never'}; the certificate changed ${new Date(installed).toISOString()})`
      },
      async apply() {
        await ctx.closeEtcd(host)
        await ctx.on(host)`docker restart ${ctx.inv.etcd.container}`
      },
      verify: () => servesNewCertificate(ctx),
    },
  ]
}

/** The member serves the certificate in its file, answers, and is in the member list (waits up to 90 s). */
async function servesNewCertificate(ctx) {
  const { host, files } = ctx.facts
  const inFile = new X509Certificate(await ctx.on(host).readFile(files.cert))
  const deadline = Date.now() + 90_000
  let last = 'not answering'
  while (Date.now() < deadline) {
    try {
      if ((await servedSerial(ctx, host)) === serialOf(inFile.serialNumber)) {
        const m = await ctx.etcd(host)
        const s = await m.client.maintenance.status()
        const { members } = await m.client.cluster.memberList({})
        if (members.some((x) => x.ID === s.header.member_id)) {
          return `etcd on ${host} serves serial ${serialOf(inFile.serialNumber)} (valid until ${inFile.validTo}); healthy: raft index ${s.raftIndex}, ${members.length} members`
        }
        last = 'not in the member list'
      } else last = 'still serving the old certificate'
    } catch (e) {
      last = e.message
      await ctx.closeEtcd(host)
    }
    await new Promise((r) => setTimeout(r, 1000))
  }
  throw ctx.error({ code: 'cert-not-served', message: `etcd on ${host} did not come back healthy with the new certificate within 90 s: ${last}`, host, hint: `docker logs --tail 50 ${ctx.inv.etcd.container} on ${host}; the old files are kept as ${files.cert}.dr-old-<time>`, exit: 'unverified' })
}

/** After every run, even one with nothing to do: the member serves the certificate in its file and is healthy. */
export const verify = servesNewCertificate
