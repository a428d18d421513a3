// Backups from a real TLS etcd into every store type — a directory, SFTP over a real sshd on loopback, S3 over
// s3rver — each listed, verified (digests + a throwaway etcd restore) and, for age, readable by the `age` CLI.
import t from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import type { Etcd3 } from 'etcd3'
import { generateIdentity, identityToRecipient } from 'age-encryption'
// @ts-expect-error s3rver ships no types
import S3rver from 's3rver'
import { startEtcd, freePort, type EtcdCluster } from '../helpers/etcd.ts'
import { startSshd, type Sshd } from '../helpers/sshd.ts'
import { SshTransport } from '../../src/transport/ssh.ts'
import { SSH_DEFAULTS } from '../../src/inventory/defaults.ts'
import { DirStore } from '../../src/backup/store-dir.ts'
import { SftpStore } from '../../src/backup/store-sftp.ts'
import { S3Store } from '../../src/backup/store-s3.ts'
import type { BackupStore } from '../../src/backup/store.ts'
import { takeBackup } from '../../src/backup/take.ts'
import { listBackups } from '../../src/backup/catalog.ts'
import { verifyBackup } from '../../src/backup/verify.ts'

t.setTimeout(300_000)

let etcd: EtcdCluster
let client: Etcd3
let sshd: Sshd
let ssh: SshTransport
let s3: { close(): Promise<void> }
let s3Port: number
let identity: string
let recipient: string
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-backup-it-'))
const KEYS = 120

t.before(async () => {
  etcd = await startEtcd({ members: 1, tls: true })
  client = etcd.client()
  // ~12 MiB of incompressible values: the stored object is bigger than one 8 MiB S3 part, so multipart is used.
  for (let i = 0; i < KEYS; i++) await client.put(`/registry/test/k${i}`).value(randomBytes(100 * 1024))
  identity = await generateIdentity()
  recipient = await identityToRecipient(identity)
  fs.writeFileSync(path.join(scratch, 'key.txt'), identity + '\n', { mode: 0o600 })
  sshd = await startSshd()
  fs.writeFileSync(path.join(sshd.dir, 'known_hosts'), sshd.knownHostsLine + '\n')
  ssh = await SshTransport.connect({
    name: 'offsite',
    address: '127.0.0.1',
    hostKeys: [],
    ssh: { ...SSH_DEFAULTS, port: sshd.port, user: sshd.user, identityFile: sshd.userKeyPath, knownHosts: path.join(sshd.dir, 'known_hosts') },
  })
  s3Port = await freePort()
  const server = new S3rver({ port: s3Port, address: '127.0.0.1', silent: true, directory: path.join(scratch, 's3'), configureBuckets: [{ name: 'etcd' }] })
  await server.run()
  s3 = server
})

t.teardown(async () => {
  client?.close()
  await ssh?.close()
  await sshd?.stop()
  await s3?.close()
  await etcd?.stop()
  fs.rmSync(scratch, { recursive: true, force: true })
})

function stores(): BackupStore[] {
  const remoteDir = path.join(scratch, 'sftp-remote', 'dr')
  return [
    new DirStore('local', path.join(scratch, 'dir')),
    new SftpStore('offsite', 'offsite', remoteDir, async () => ssh),
    new S3Store(
      { name: 's3', type: 's3', bucket: 'etcd', prefix: 'lab/', endpoint: `http://127.0.0.1:${s3Port}`, region: 'us-east-1', forcePathStyle: true, accessKeyEnv: 'T_KEY', secretKeyEnv: 'T_SECRET' },
      { T_KEY: 'S3RVER', T_SECRET: 'S3RVER' },
    ),
  ]
}

for (const which of ['local', 'offsite', 's3']) {
  t.test(`backup → ${which}: stored atomically, listed, verified by a throwaway restore`, async (t) => {
    const store = stores().find((s) => s.name === which)!
    const taken = await takeBackup({ cluster: 'it', member: { host: 'm1', endpoint: etcd.endpoints[0], client, snapshot: etcd.snapshotTarget() }, store, recipients: [recipient], spoolDir: path.join(scratch, 'spool'), drVersion: 'test' })
    const m = taken.metadata
    t.equal(m.keyCount, KEYS, 'key count recorded (no writes during the snapshot)')
    t.equal(m.etcdVersion, '3.4.23')
    t.ok(m.stored.size > 8 * 1024 * 1024, `stored ${m.stored.size} bytes: more than one S3 part`)
    t.equal(taken.uploadAttempts, 1)
    t.same(fs.readdirSync(path.join(scratch, 'spool')), [], 'the spool is removed once the store has the backup')

    const objects = await store.list()
    t.same(objects.map((o) => o.name).sort(), [m.stored.name, `${m.id}.meta.json`].sort(), 'exactly the payload and its metadata; no temporary object left')
    const [entry] = await listBackups(store)
    t.match(entry, { id: m.id, store: which, size: m.stored.size, sha256: m.snapshot.sha256, revision: m.revision, encrypted: true, problems: [] })
    t.equal(entry.location, store.location(m.stored.name))
    if (which === 'local') {
      t.equal(fs.statSync(entry.location).mode & 0o777, 0o600, 'payload mode 0600')
      t.equal(fs.statSync(path.join(scratch, 'dir', `${m.id}.meta.json`)).mode & 0o777, 0o600, 'metadata mode 0600')
    }
    if (which === 'offsite') {
      t.equal(fs.statSync(path.join(scratch, 'sftp-remote', 'dr', m.stored.name)).mode & 0o777, 0o600, 'remote payload mode 0600')
      t.match(entry.location, /^offsite:\//)
    }
    if (which === 's3') t.equal(entry.location, `s3://etcd/lab/${m.stored.name}`)

    const report = await verifyBackup(store, m.id, { identities: [identity] })
    t.ok(report.ok, 'verify passes')
    t.equal(report.keyCount, KEYS)
    t.equal(report.revision, m.revision)
    t.same(report.checks.map((c) => c.name), ['stored size', 'stored sha256', 'age decryption', 'snapshot sha256', 'etcd integrity hash', 'snapshot status', 'restored revision', 'restored key count'])
    await store.close()
  })
}

t.test('the standard age CLI decrypts what dr wrote; the result is the exact snapshot', async (t) => {
  const age = spawnSync('age', ['--version'])
  if (age.error) return void t.comment('skipped: age is not installed (scripts/lib/ensure.sh installs it)')
  const store = new DirStore('local', path.join(scratch, 'dir'))
  const [entry] = await listBackups(store)
  const out = path.join(scratch, 'cli.db')
  t.equal(entry.compression, 'brotli', 'brotli by default')
  execFileSync('sh', ['-c', `age -d -i "$1" "$2" | brotli -d > "$3"`, 'sh', path.join(scratch, 'key.txt'), entry.location, out])
  t.equal(execFileSync('sha256sum', [out], { encoding: 'utf8' }).split(' ')[0], entry.sha256)
  const status = JSON.parse(execFileSync('etcdctl', ['snapshot', 'status', '-w', 'json', out], { env: { ...process.env, ETCDCTL_API: '3' }, encoding: 'utf8' }))
  t.equal(status.revision, entry.revision)
})

t.test('without recipients, each codec: compressed only, read by its own CLI, verified', async (t) => {
  for (const [compression, suffix, cli] of [['brotli', '.br', 'brotli -dc'], ['gzip', '.gz', 'gzip -dc'], ['none', '', 'cat']] as const) {
    const store = new DirStore(`plain-${compression}`, path.join(scratch, `plain-${compression}`))
    const taken = await takeBackup({ cluster: 'it', member: { host: 'm1', client, snapshot: etcd.snapshotTarget() }, store, recipients: [], compression, spoolDir: path.join(scratch, 'spool'), drVersion: 'test' })
    t.equal(taken.metadata.stored.name, `${taken.metadata.id}.db${suffix}`, `${compression}: named ${suffix || 'without a suffix'}`)
    t.equal(taken.metadata.compression, compression, `${compression}: recorded in the metadata`)
    t.same(taken.metadata.encryption, { type: 'none', recipients: [] })
    // The keys here are random bytes: only bbolt's pages and free space compress.
    if (compression !== 'none') t.ok(taken.metadata.stored.size < taken.metadata.snapshot.size, `${compression}: ${taken.metadata.stored.size} of ${taken.metadata.snapshot.size} bytes stored`)
    const [entry] = await listBackups(store)
    const raw = execFileSync('sh', ['-c', `${cli} < "$1" | sha256sum`, 'sh', entry.location], { encoding: 'utf8' }).split(' ')[0]
    t.equal(raw, taken.metadata.snapshot.sha256, `${compression}: \`${cli}\` gives back the exact snapshot`)
    const report = await verifyBackup(store, taken.metadata.id, { identities: [] })
    t.ok(report.ok, `${compression}: verified`)
    t.notOk(report.checks.some((c) => c.name === 'age decryption'))
  }
})
