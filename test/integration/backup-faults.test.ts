// Backups under faults (issue 9): the store disappears in the middle of an upload (the directory removed or
// replaced by a file, sshd killed, s3rver stopped), and dr itself is SIGKILLed in the middle of `backup now` —
// in none of these does a partial object ever become visible in the store or listed by `dr backup list`.
// Retention never deletes the newest sound backup, even when a newer one is broken.
import t, { type Test } from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { randomBytes } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import type { Etcd3 } from 'etcd3'
// @ts-expect-error s3rver ships no types
import S3rver from 's3rver'
import { startEtcd, freePort, type EtcdCluster } from '../helpers/etcd.ts'
import { startSshd } from '../helpers/sshd.ts'
import { dr } from '../helpers/dr.ts'
import { SshTransport } from '../../src/transport/ssh.ts'
import { SSH_DEFAULTS } from '../../src/inventory/defaults.ts'
import { DirStore } from '../../src/backup/store-dir.ts'
import { SftpStore } from '../../src/backup/store-sftp.ts'
import { S3Store } from '../../src/backup/store-s3.ts'
import type { BackupStore } from '../../src/backup/store.ts'
import { isPartialName } from '../../src/backup/naming.ts'
import { planRetention } from '../../src/backup/retention.ts'
import { applyPrune, planPrune } from '../../src/backup/prune.ts'
import { listBackups } from '../../src/backup/catalog.ts'
import { takeBackup } from '../../src/backup/take.ts'

t.setTimeout(600_000)
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-backup-faults-'))
let etcd: EtcdCluster
let client: Etcd3
t.before(async () => {
  etcd = await startEtcd({ members: 1, tls: true })
  client = etcd.client()
  for (let i = 0; i < 40; i++) await client.put(`/registry/faults/k${i}`).value(randomBytes(50 * 1024))
})
t.teardown(async () => {
  client?.close()
  await etcd?.stop()
  fs.rmSync(scratch, { recursive: true, force: true })
})

const NAME = 'it_20261201T220000Z_r42.db.gz'

/** 4 MiB in 64 KiB chunks, 10 ms apart; `fault` runs once half of it has been read. */
function slowSource(fault: () => unknown): Readable {
  let sent = 0
  const total = 64
  return new Readable({
    read() {
      if (sent === total / 2) void Promise.resolve(fault()).catch((e) => this.destroy(e))
      if (sent === total) return void this.push(null)
      sent++
      setTimeout(() => this.push(randomBytes(64 * 1024)), 10)
    },
  })
}

async function saveFails(t: Test, store: BackupStore, fault: () => unknown) {
  const err = await store.save(NAME, slowSource(fault)).then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof Error, `the save failed: ${(err as Error)?.message?.split('\n')[0]}`)
}

t.test('dir store: the directory removed mid-upload → the save fails, nothing visible', async (t) => {
  const dir = path.join(scratch, 'dir-removed')
  const store = new DirStore('local', dir)
  await saveFails(t, store, () => fs.rmSync(dir, { recursive: true, force: true }))
  t.same(await store.list(), [], 'nothing listed')
  t.notOk(fs.existsSync(path.join(dir, NAME)), 'no object under its final name')
})

t.test('dir store: the directory replaced by a file mid-upload → the save fails, nothing visible', async (t) => {
  const dir = path.join(scratch, 'dir-replaced')
  const store = new DirStore('local', dir)
  await saveFails(t, store, () => {
    fs.rmSync(dir, { recursive: true, force: true })
    fs.writeFileSync(dir, 'not a directory')
  })
  t.ok(fs.statSync(dir).isFile())
  fs.rmSync(dir)
  t.same(await store.list(), [])
})

t.test('sftp store: sshd killed mid-upload → the save fails, nothing visible on the host', async (t) => {
  const sshd = await startSshd()
  fs.writeFileSync(path.join(sshd.dir, 'known_hosts'), sshd.knownHostsLine + '\n')
  const ssh = await SshTransport.connect({ name: 'offsite', address: '127.0.0.1', hostKeys: [], ssh: { ...SSH_DEFAULTS, port: sshd.port, user: sshd.user, identityFile: sshd.userKeyPath, knownHosts: path.join(sshd.dir, 'known_hosts') } })
  const remote = path.join(scratch, 'sftp-remote')
  const store = new SftpStore('offsite', 'offsite', remote, async () => ssh)
  // Kill sshd and every session it serves, by pid (the connection drops like a host going away).
  await saveFails(t, store, () => {
    const ps = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' }).split('\n').map((l) => l.trim().split(/\s+/))
    const listener = ps.find((p) => p.slice(2).join(' ').includes(sshd.dir))![0]
    const tree = (pid: string): string[] => [pid, ...ps.filter((p) => p[1] === pid).flatMap((p) => tree(p[0]))]
    for (const pid of tree(listener).reverse()) process.kill(Number(pid), 'SIGKILL')
  })
  await sshd.stop()
  await ssh.close().catch(() => undefined)
  const left = fs.existsSync(remote) ? fs.readdirSync(remote) : []
  t.notOk(left.includes(NAME), 'no object under its final name')
  t.ok(left.every(isPartialName), `only hidden temporary files may remain (${left.join(', ') || 'none'})`)
  t.same(await new DirStore('same dir', remote).list(), [], 'nothing a listing would show')
})

t.test('s3 store: s3rver stopped mid-upload → the upload fails and is never completed', async (t) => {
  const port = await freePort()
  const directory = path.join(scratch, 's3')
  const start = async () => {
    const server = new S3rver({ port, address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: 'etcd' }] })
    await server.run()
    return server
  }
  let server = await start()
  const cfg = { name: 's3', type: 's3' as const, bucket: 'etcd', prefix: 'lab/', endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, accessKeyEnv: 'T_KEY', secretKeyEnv: 'T_SECRET' }
  const env = { T_KEY: 'S3RVER', T_SECRET: 'S3RVER' }
  const store = new S3Store(cfg, env)
  await saveFails(t, store, () => server.close())
  await store.close()
  server = await start()
  t.teardown(() => server.close())
  const again = new S3Store(cfg, env)
  t.same(await again.list(), [], 'nothing listed once the store is back')
  await again.close()
})

t.test('the commit gate: an object stays invisible until its metadata is stored, and never appears if that fails', async (t) => {
  const dir = path.join(scratch, 'gate')
  const store = new DirStore('local', dir)
  let open!: () => void
  const gate = new Promise<void>((r) => (open = r))
  const saving = store.save(NAME, Readable.from([randomBytes(1000)]), { commit: gate })
  await new Promise((r) => setTimeout(r, 300))
  t.same(await store.list(), [], 'complete but not committed: invisible')
  open()
  await saving
  t.same((await store.list()).map((o) => o.name), [NAME], 'visible once committed')
  const failing = Promise.reject(new Error('metadata failed'))
  failing.catch(() => undefined) // the store awaits it only once the bytes are written
  const refused = store.save('it_20261201T230000Z_r43.db.gz', Readable.from([randomBytes(1000)]), { commit: failing })
  await t.rejects(refused, /metadata failed/)
  t.same((await store.list()).map((o) => o.name), [NAME], 'a refused commit leaves nothing')
  t.same(fs.readdirSync(dir), [NAME], 'not even a temporary file')
})

t.test('dr SIGKILLed in the middle of `backup now`: never a partial backup in the store or in `backup list`', async (t) => {
  const sshd = await startSshd()
  t.teardown(() => sshd.stop())
  const dir = path.join(scratch, 'cli')
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, 'known_hosts'), sshd.knownHostsLine + '\n')
  const inv = path.join(dir, 'inv.yaml')
  fs.writeFileSync(inv, `cluster: faults
flavor: rke
ssh: { user: ${sshd.user}, identityFile: ${sshd.userKeyPath}, knownHosts: known_hosts, connectTimeoutMs: 2000 }
etcd: { clientPort: ${new URL(etcd.endpoints[0]).port}, caFile: ${etcd.tls!.caFile}, certFile: ${etcd.tls!.certFile}, keyFile: ${etcd.tls!.keyFile} }
sites:
  A: { hosts: [m1] }
hosts:
  m1: { address: 127.0.0.1, roles: [etcd, controlplane], ssh: { port: ${sshd.port} } }
backup:
  stores:
    local: { type: dir, path: store }
    offsite: { type: sftp, host: m1, path: ${path.join(dir, 'remote')} }
  defaultStore: local
  retention: { last: 1, daily: 0, weekly: 0, monthly: 0 }
stateDir: state
`)
  const listed = async (store: string) => {
    const r = await dr(['-i', inv, 'backup', 'list', '--store', store, '--json'])
    t.equal(r.code, 0, r.stderr)
    return r.json() as Array<{ id: string; problems: string[] }>
  }
  const visible = (d: string) => (fs.existsSync(d) ? fs.readdirSync(d).filter((n) => !isPartialName(n)) : [])

  for (const store of ['local', 'offsite']) {
    const storeDir = store === 'local' ? path.join(dir, 'store') : path.join(dir, 'remote')
    // Killed after its metadata is stored, just before the payload would appear: the payload never does.
    const k = await dr(['-i', inv, 'backup', 'now', '--store', store], { env: { DR_TEST_CRASH_AT: 'backup-before-commit' } })
    t.equal(k.signal, 'SIGKILL', `${store}: killed before the commit`)
    t.same(await listed(store), [], `${store}: nothing listed`)
    t.ok(visible(storeDir).every((n) => n.endsWith('.meta.json')), `${store}: no payload visible (${visible(storeDir).join(', ')})`)
    // Killed at whatever point 0.2 s, 1 s, 2 s after the snapshot starts: a listed backup is always whole.
    for (const delayMs of [200, 1000, 2000]) {
      const r = await dr(['-i', inv, 'backup', 'now', '--store', store], { killOn: { pattern: /snapshotting m1/, delayMs } })
      for (const e of await listed(store)) t.same(e.problems, [], `${store}, killed ${delayMs} ms in (${r.signal ?? `exit ${r.code}`}): ${e.id} is whole`)
    }
    const ok = await dr(['-i', inv, 'backup', 'now', '--store', store])
    t.equal(ok.code, 0, ok.stderr)
    const after = await listed(store)
    t.ok(after.length >= 1 && after.every((e) => e.problems.length === 0), `${store}: a later run is listed, whole`)
  }
})

t.test('retention never deletes the newest sound backup (pure)', async (t) => {
  const items = [
    { id: 'good-old', createdAt: '2026-11-01T00:00:00Z', sound: true },
    { id: 'good', createdAt: '2026-11-20T00:00:00Z', sound: true },
    { id: 'broken-newer', createdAt: '2026-11-21T00:00:00Z', sound: false },
    { id: 'broken-newest', createdAt: '2026-11-21T06:00:00Z', sound: false },
  ]
  const plan = planRetention(items, { last: 1, daily: 0, weekly: 0, monthly: 0 }, { isSound: (i) => i.sound })
  t.same(plan.keep.map((k) => [k.item.id, k.reasons]), [['broken-newest', ['last 1/1']], ['good', ['newest sound']]])
  t.same(plan.remove.map((i) => i.id), ['broken-newer', 'good-old'])
  const zero = planRetention(items, { last: 0, daily: 0, weekly: 0, monthly: 0 }, { isSound: (i) => i.sound })
  t.same(zero.keep.map((k) => k.item.id), ['broken-newest', 'good'], 'even with an all-zero policy')
  const allSound = planRetention(items.map((i) => ({ ...i, sound: true })), { last: 0, daily: 0, weekly: 0, monthly: 0 }, { isSound: (i) => i.sound })
  t.same(allSound.keep.map((k) => k.item.id), ['broken-newest'], 'when the newest is sound it is the one kept')
})

t.test('retention on a store: a newer backup without metadata does not cost the last good one', async (t) => {
  const store = new DirStore('local', path.join(scratch, 'prune'))
  const good = await takeBackup({ cluster: 'it', member: { host: 'm1', client, snapshot: etcd.snapshotTarget() }, store, recipients: [], spoolDir: path.join(scratch, 'spool'), drVersion: 'test', now: () => new Date('2026-11-20T00:00:00Z') })
  const older = await takeBackup({ cluster: 'it', member: { host: 'm1', client, snapshot: etcd.snapshotTarget() }, store, recipients: [], spoolDir: path.join(scratch, 'spool'), drVersion: 'test', now: () => new Date('2026-11-19T00:00:00Z') })
  // A newer payload whose metadata never arrived (written by hand: dr itself no longer leaves one).
  fs.writeFileSync(path.join(scratch, 'prune', `it_20261121T000000Z_r${good.metadata.revision + 1}.db.gz`), randomBytes(100))
  const plan = await planPrune(store, 'it', { last: 1, daily: 0, weekly: 0, monthly: 0 })
  t.same(plan.keep.map((k) => k.item.id).sort(), [good.metadata.id, `it_20261121T000000Z_r${good.metadata.revision + 1}`].sort())
  const res = await applyPrune(store, plan)
  t.same(res.deleted, [older.metadata.id])
  const left = await listBackups(store)
  t.ok(left.some((e) => e.id === good.metadata.id && e.problems.length === 0), 'the newest sound backup is still there')
})
