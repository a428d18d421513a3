// What must never pass: a truncated, a corrupted and a wrongly-decrypted backup are refused before anything is
// restored; an unreachable store fails the run loudly (non-zero exit) and keeps the local copy. Also the whole
// `dr backup` command line against a real TLS etcd, reached over a real sshd on loopback.
import t, { type Test } from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Etcd3 } from 'etcd3'
import { generateIdentity, identityToRecipient } from 'age-encryption'
import { startEtcd, freePort, type EtcdCluster } from '../helpers/etcd.ts'
import { dr, DR } from '../helpers/dr.ts'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { startSshd } from '../helpers/sshd.ts'
import { DirStore } from '../../src/backup/store-dir.ts'
import { SftpStore } from '../../src/backup/store-sftp.ts'
import { SshTransport } from '../../src/transport/ssh.ts'
import { SSH_DEFAULTS } from '../../src/inventory/defaults.ts'
import { takeBackup } from '../../src/backup/take.ts'
import { backupId, metadataName } from '../../src/backup/naming.ts'
import { verifyBackup } from '../../src/backup/verify.ts'
import { isDrError } from '../../src/core/error.ts'

t.setTimeout(300_000)
let etcd: EtcdCluster
let client: Etcd3
let identity: string
let recipient: string
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-backup-refuse-'))

t.before(async () => {
  etcd = await startEtcd({ members: 1, tls: true })
  client = etcd.client()
  for (let i = 0; i < 200; i++) await client.put(`/registry/k${i}`).value(`value-${i}-`.repeat(50))
  identity = await generateIdentity()
  recipient = await identityToRecipient(identity)
})
t.teardown(async () => {
  client?.close()
  await etcd?.stop()
  fs.rmSync(scratch, { recursive: true, force: true })
})

async function fresh(name: string) {
  const store = new DirStore(name, path.join(scratch, name))
  const taken = await takeBackup({ cluster: 'it', member: { host: 'm1', client, snapshot: etcd.snapshotTarget() }, store, recipients: [recipient], spoolDir: path.join(scratch, 'spool'), drVersion: 'test' })
  return { store, id: taken.metadata.id, file: path.join(scratch, name, taken.metadata.stored.name) }
}

/** Verify must fail with `code`, and must not have got as far as a throwaway etcd (no scratch left, no etcd started). */
async function refused(t: Test, store: DirStore, id: string, code: string, identities = [identity]) {
  const scratchRoot = fs.mkdtempSync(path.join(scratch, 'verify-'))
  const err = await verifyBackup(store, id, { identities, scratchRoot }).then(
    () => undefined,
    (e: unknown) => e,
  )
  t.ok(isDrError(err), `refused with a DrError (${(err as Error)?.message})`)
  t.equal((err as { code?: string }).code, code)
  t.equal((err as { exit?: string }).exit, 'refused')
  t.same(fs.readdirSync(scratchRoot), [], 'the scratch snapshot was removed; nothing was restored')
}

t.test('a truncated backup is refused', async (t) => {
  const b = await fresh('trunc')
  fs.truncateSync(b.file, Math.floor(fs.statSync(b.file).size / 2))
  await refused(t, b.store, b.id, 'backup.truncated')
})

t.test('a truncated backup whose recorded size was also rewritten is still refused (age/brotli see the cut)', async (t) => {
  const b = await fresh('trunc2')
  const size = Math.floor(fs.statSync(b.file).size / 2)
  fs.truncateSync(b.file, size)
  const metaFile = b.file.replace(/\.db\.br\.age$/, '.meta.json')
  const meta = JSON.parse(fs.readFileSync(metaFile, 'utf8'))
  meta.stored.size = size
  fs.writeFileSync(metaFile, JSON.stringify(meta))
  const scratchRoot = fs.mkdtempSync(path.join(scratch, 'verify-'))
  const err = await verifyBackup(b.store, b.id, { identities: [identity], scratchRoot }).catch((e: unknown) => e)
  t.match(err, { exit: 'refused', code: /^backup\.(truncated|corrupt)$/ })
})

t.test('a corrupted backup (one byte flipped) is refused', async (t) => {
  const b = await fresh('corrupt')
  const fd = fs.openSync(b.file, 'r+')
  const at = Math.floor(fs.statSync(b.file).size / 2)
  const byte = Buffer.alloc(1)
  fs.readSync(fd, byte, 0, 1, at)
  byte[0] ^= 0xff
  fs.writeSync(fd, byte, 0, 1, at)
  fs.closeSync(fd)
  await refused(t, b.store, b.id, 'backup.corrupt')
})

t.test('a backup decrypted with the wrong key is refused', async (t) => {
  const b = await fresh('wrongkey')
  await refused(t, b.store, b.id, 'backup.wrong-key', [await generateIdentity()])
})

/** A backup of the test's member to an SFTP store on a port where nothing listens; the error it fails with. */
async function backupToUnreachableStore(spoolDir: string, more: Partial<Parameters<typeof takeBackup>[0]>): Promise<unknown> {
  const closedPort = await freePort()
  const store = new SftpStore('offsite', 'nowhere', '/var/backups/dr', () =>
    SshTransport.connect({ name: 'nowhere', address: '127.0.0.1', hostKeys: [], ssh: { ...SSH_DEFAULTS, port: closedPort, connectTimeoutMs: 1000 } }),
  )
  return takeBackup({ cluster: 'it', member: { host: 'm1', client, snapshot: etcd.snapshotTarget() }, store, recipients: [recipient], spoolDir, drVersion: 'test', ...more }).catch((e: unknown) => e)
}

t.test('an unreachable store: retried with backoff, then a loud failure, and the local copy is kept', async (t) => {
  const spoolDir = path.join(scratch, 'spool-unreachable')
  const retries: number[] = []
  const err = await backupToUnreachableStore(spoolDir, {
    retry: { attempts: 3, baseDelayMs: 50 },
    onRetry: (attempt, delay) => retries.push(delay),
  })
  t.match(err, { code: 'backup.store-failed' })
  t.same(retries, [50, 100], 'backoff doubles')
  const kept = fs.readdirSync(spoolDir).sort()
  t.equal(kept.length, 2, 'payload and metadata kept')
  t.match(kept[0], /\.db\.br\.age$/)
  t.match(kept[1], /\.meta\.json$/)
  t.match((err as Error & { hint: string }).hint, new RegExp(`kept locally at ${path.join(spoolDir, kept[0]).replace(/[.]/g, '\\.')}`))
  // The kept copy is a complete, valid backup: a directory store over the spool verifies it.
  const report = await verifyBackup(new DirStore('spool', spoolDir), kept[0].replace(/\.db\.br\.age$/, ''), { identities: [identity] })
  t.ok(report.ok, 'the local copy verifies')
})

t.test('a store that fails and a local copy that cannot be kept either: the failure of the store is the error, and the hint says the copy failed too', async (t) => {
  const spoolDir = path.join(scratch, 'spool-blocked')
  // A directory where the metadata record's temporary file would be written: keeping it locally fails.
  const at = new Date('2026-12-03T09:00:00Z')
  const revision = Number((await client.maintenance.status()).header.revision)
  fs.mkdirSync(path.join(spoolDir, `${metadataName(backupId('it', at, revision))}.tmp`), { recursive: true })
  const err = await backupToUnreachableStore(spoolDir, { now: () => at, retry: { attempts: 1, baseDelayMs: 10 } })
  t.match(err, { code: 'backup.store-failed', message: /could not write .* to store "offsite"/ }, 'the error is still the store')
  t.match((err as Error & { hint: string }).hint, /kept locally at .*\.db\.br\.age \(metadata beside it\) \(but keeping it locally failed too: .+\)/)
})

t.test('the dr command line: now/list/verify/prune, metrics, and an unreachable store exits non-zero', async (t) => {
  const dir = path.join(scratch, 'cli')
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, 'backup.age'), identity + '\n', { mode: 0o600 })
  const port = new URL(etcd.endpoints[0]).port
  const closedPort = await freePort()
  // m1 is reached over a real sshd on loopback: certificates read over SFTP, etcd through an SSH tunnel.
  const sshd = await startSshd()
  t.teardown(() => sshd.stop())
  fs.writeFileSync(path.join(dir, 'known_hosts'), sshd.knownHostsLine + '\n')
  const inv = `cluster: cli
flavor: rke
ssh: { user: ${sshd.user}, identityFile: ${sshd.userKeyPath}, knownHosts: known_hosts, connectTimeoutMs: 1000 }
etcd:
  clientPort: ${port}
  caFile: ${etcd.tls!.caFile}
  certFile: ${etcd.tls!.certFile}
  keyFile: ${etcd.tls!.keyFile}
sites:
  A: { hosts: [m1] }
  B: { hosts: [far] }
hosts:
  m1: { address: 127.0.0.1, roles: [etcd, controlplane], ssh: { port: ${sshd.port} } }
  far: { address: 127.0.0.1, roles: [worker], ssh: { port: ${closedPort} } }
backup:
  stores:
    local: { type: dir, path: store }
    offsite: { type: sftp, host: far, path: /var/backups/dr }
  defaultStore: local
  encryption: { recipients: ["${recipient}"], identityFile: backup.age }
  schedule: "0 */6 * * *"
  retention: { last: 1, daily: 0, weekly: 0, monthly: 0 }
  metricsFile: metrics/dr_backup.prom
stateDir: state
`
  const invFile = path.join(dir, 'inv.yaml')
  fs.writeFileSync(invFile, inv)
  const now = await dr(['-i', invFile, 'backup', 'now', '--verify', '--json'])
  t.equal(now.code, 0, now.stderr)
  const taken = now.json()
  t.equal(taken.verify.ok, true)
  t.equal(taken.member.host, 'm1')
  const second = await dr(['-i', invFile, 'backup', 'now'])
  t.equal(second.code, 0, second.stderr)

  const list = await dr(['-i', invFile, 'backup', 'list', '--store', 'local', '--json'])
  t.equal(list.code, 0, list.stderr)
  const entries = list.json()
  t.equal(entries.length, 2)
  for (const e of entries) for (const k of ['id', 'store', 'location', 'size', 'sha256', 'revision', 'createdAt']) t.ok(e[k] !== undefined && e[k] !== null, `list entry has ${k}`)

  const verify = await dr(['-i', invFile, 'backup', 'verify', taken.id])
  t.equal(verify.code, 0, verify.stderr)
  t.match(verify.stdout, /is restorable/)

  const plan = await dr(['-i', invFile, 'backup', 'prune', '--plan', '--json'])
  t.equal(plan.code, 0, plan.stderr)
  t.equal(plan.json().remove.length, 1, 'last 1: the older backup would go')
  t.equal(fs.readdirSync(path.join(dir, 'store')).length, 4, '--plan deleted nothing')
  const prune = await dr(['-i', invFile, 'backup', 'prune'])
  t.equal(prune.code, 0, prune.stderr)
  t.equal(fs.readdirSync(path.join(dir, 'store')).length, 2, 'one backup (payload + metadata) left')

  const check = await dr(['-i', invFile, 'check', 'backups', '--json'])
  t.equal(check.code, 5, 'offsite has no backup (and cannot be listed): problems')
  const results = check.json().results
  t.match(results.find((f: { subject: string }) => f.subject === 'store local'), { status: 'ok' })
  t.ok(results.some((f: { subject: string; status: string }) => f.subject === 'store offsite' && f.status !== 'ok'), 'the offsite store is a problem')

  const failed = await dr(['-i', invFile, 'backup', 'now', '--store', 'offsite', '--retries', '1'])
  t.equal(failed.code, 1, 'an unreachable store is a failure')
  t.match(failed.stderr, /error\[backup\.store-failed\]/)
  t.match(failed.stderr, /kept locally at .*state\/backups\/spool\/cli_.*\.db\.br\.age/)
  t.equal(fs.readdirSync(path.join(dir, 'state', 'backups', 'spool')).length, 2)

  // The daemon waits for its next cron time in the foreground; SIGTERM ends it at once with exit 0.
  const daemon = spawn(process.execPath, [DR, '-i', invFile, 'backup', 'daemon', '--cron', '0 0 1 1 *'], { env: { ...process.env, CI: 'true' } })
  let derr = ''
  daemon.stderr.on('data', (d) => (derr += d))
  const deadline = Date.now() + 30_000
  while (!/next backup at/.test(derr) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
  t.match(derr, /next backup at \d{4}-01-01T/, 'the daemon scheduled its next run')
  const sent = Date.now()
  daemon.kill('SIGTERM')
  const [code] = (await once(daemon, 'exit')) as [number | null]
  t.equal(code, 0, 'SIGTERM: clean exit 0')
  t.ok(Date.now() - sent < 5000, 'promptly')
  t.match(derr, /SIGTERM: stopping/)

  const prom = fs.readFileSync(path.join(dir, 'metrics', 'dr_backup.prom'), 'utf8')
  t.match(prom, /^dr_backup_failures_total\{cluster="cli",store="offsite"\} 1$/m)
  t.match(prom, /^dr_backup_failures_total\{cluster="cli",store="local"\} 0$/m)
  t.match(prom, /^dr_backup_last_success_timestamp_seconds\{cluster="cli",store="local"\} \d+$/m)
  t.match(prom, /^dr_backup_last_size_bytes\{cluster="cli",store="local"\} \d+$/m)
})
