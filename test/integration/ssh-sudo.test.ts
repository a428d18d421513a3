// Issue 9.7 at the transport level: a real sshd and a real sudo (the lab's node image), a login user who is not
// root and whose login shell is /bin/sh (dash), with passwordless sudo — and one without sudo rights.
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { Readable, type Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { Output } from '../../src/core/output.ts'
import { ensureImages } from '../../src/lab/images.ts'
import { runLocal } from '../../src/transport/local.ts'
import { SshTransport } from '../../src/transport/ssh.ts'
import { SSH_DEFAULTS } from '../../src/inventory/defaults.ts'
import type { SshSettings } from '../../src/inventory/types.ts'

// The node image may have to be built first (a few minutes, once per content hash).
t.setTimeout(900_000)

const name = `drtest-sudo-${process.pid}`
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-ssh-sudo-'))
const key = path.join(dir, 'id_ed25519')
let port = 0
const open: SshTransport[] = []

const SETUP = `set -e
for u in dr nosudo; do
  useradd --create-home --shell /bin/sh "$u"
  mkdir -p /home/$u/.ssh && cp /tmp/key.pub /home/$u/.ssh/authorized_keys && chown -R $u: /home/$u/.ssh
done
echo 'dr ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/dr && chmod 0440 /etc/sudoers.d/dr
# Every sync run from a shell (sudo's secure_path and the login PATH both put /usr/local/bin first) is logged.
printf '#!/bin/sh\necho "$(id -un) sync $*" >> /tmp/sync.log\nexec /bin/sync "$@"\n' > /usr/local/bin/sync
chmod 755 /usr/local/bin/sync && : > /tmp/sync.log && chmod 666 /tmp/sync.log
ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
mkdir -p /run/sshd
exec /usr/sbin/sshd -D -e`

t.before(async () => {
  const images = await ensureImages(new Output({ json: false, verbose: false }))
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key])
  const r = await runLocal(['docker', 'run', '-d', '--label', 'dr.test=1', '--name', name, '-p', '127.0.0.1::22', '-v', `${key}.pub:/tmp/key.pub:ro`, images.node, 'sh', '-c', SETUP])
  if (!r.ok) throw new Error(r.stderr)
  port = Number((await runLocal(['docker', 'port', name, '22/tcp'])).stdout.trim().split(':').pop())
  let hostKey = ''
  for (let i = 0; i < 100 && !hostKey; i++) {
    const k = await runLocal(['docker', 'exec', name, 'cat', '/etc/ssh/ssh_host_ed25519_key.pub'])
    if (k.ok && (await runLocal(['docker', 'exec', name, 'test', '-e', '/run/sshd.pid'])).ok) hostKey = k.stdout.trim().split(/\s+/).slice(0, 2).join(' ')
    else await new Promise((res) => setTimeout(res, 200))
  }
  fs.writeFileSync(path.join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${hostKey}\n`)
})
t.teardown(async () => {
  await Promise.all(open.map((c) => c.close()))
  await runLocal(['docker', 'rm', '-f', name])
  fs.rmSync(dir, { recursive: true, force: true })
})

async function connect(ssh: Partial<SshSettings>) {
  const c = await SshTransport.connect({
    name: 'node',
    address: '127.0.0.1',
    hostKeys: [],
    ssh: { ...SSH_DEFAULTS, port, identityFile: key, knownHosts: path.join(dir, 'known_hosts'), ...ssh },
  })
  open.push(c)
  return c
}

const hostile = ['$(touch /tmp/pwned)', '`id`', "it's", 'a "b" c', 'line1\nline2', 'x; rm -rf /nope', '', '\\', "'", '-n', '*', '$HOME']

t.test('a non-root login with sudo: commands run as root, values stay values, under a /bin/sh login shell', async (t) => {
  const h = await connect({ user: 'dr', sudo: true })
  t.equal(await h.$`id -un`.text(), 'root', 'under sudo -n')
  t.equal(await h.$.with({ sudo: false })`id -un`.text(), 'dr', 'sudo: false runs as the login user')
  t.equal(await h.$`getent passwd dr | cut -d: -f7`.text(), '/bin/sh', "the login shell is sh (dash): dr starts bash itself")
  for (const v of hostile) {
    const r = await h.$`printf %s ${v}`.nothrow()
    t.equal(r.stdout, v, `value ${JSON.stringify(v)}: ${r.exitCode} ${r.stderr}`)
  }
  t.equal((await h.$`test -e /tmp/pwned`.nothrow()).exitCode, 1, 'nothing ran from a value')
  await t.rejects(h.$`echo boom >&2; exit 3`, { code: 'command.failed', host: 'node', exitStatus: 3, stderr: 'boom', command: /^sudo -n -- bash -c / })
})

t.test('files under sudo: root-owned paths, modes kept', async (t) => {
  const h = await connect({ user: 'dr', sudo: true })
  await h.mkdir('/etc/dr-test', { mode: 0o700 })
  await h.writeFile('/etc/dr-test/secret', 'only root\n', { mode: 0o600 })
  t.equal((await h.readFile('/etc/dr-test/secret')).toString(), 'only root\n')
  t.equal(await h.$`stat -c '%U %a' /etc/dr-test/secret`.text(), 'root 600')
  t.same(await h.readdir('/etc/dr-test'), ['secret'])
  const plain = await connect({ user: 'dr', sudo: false })
  await t.rejects(plain.readFile('/etc/dr-test/secret'), { code: 'file.failed', host: 'node' }, 'the login user alone cannot read it')
})

t.test('durable writes, under sudo and as the login user: the file synced before the rename, the directory after', async (t) => {
  const syncLog = async () => {
    const r = await runLocal(['docker', 'exec', name, 'sh', '-c', 'cat /tmp/sync.log && : > /tmp/sync.log'])
    return r.stdout.split('\n').filter(Boolean)
  }
  await syncLog()
  const root = await connect({ user: 'dr', sudo: true })
  await root.mkdir('/etc/dr-durable', { mode: 0o700 })
  await pipeline(Readable.from([Buffer.from('payload\n')]), (await root.createWriteStream('/etc/dr-durable/.obj.part', { mode: 0o640, durable: true })) as Writable)
  await root.rename('/etc/dr-durable/.obj.part', '/etc/dr-durable/obj', { durable: true })
  await root.writeFile('/etc/dr-durable/small', 'x\n', { durable: true })
  t.same(await syncLog(), ['root sync -- /etc/dr-durable/.obj.part', 'root sync -- /etc/dr-durable', 'root sync -- /etc/dr-durable/small'], 'under sudo: each by a shell, as root')
  t.equal(await root.$`stat -c '%U %a' /etc/dr-durable/obj && cat /etc/dr-durable/obj`.text(), 'root 640\npayload')

  // As the login user everything goes through SFTP, no shell: the data is fsynced on its open handle
  // (fsync@openssh.com), and the directory on a handle of its own (sftp-server opens a directory like a file).
  const user = await connect({ user: 'dr', sudo: false })
  await user.mkdir('/home/dr/backups', { mode: 0o700 })
  await pipeline(Readable.from([Buffer.alloc(1 << 20, 1)]), (await user.createWriteStream('/home/dr/backups/.b.part', { durable: true })) as Writable)
  await user.rename('/home/dr/backups/.b.part', '/home/dr/backups/b', { durable: true })
  t.same(await syncLog(), [], 'as the login user: no shell ran sync (the fsyncs themselves: durable-writes.test.ts)')
  t.equal(await user.$`stat -c %s /home/dr/backups/b`.text(), String(1 << 20), 'the file is whole')
})

t.test('a timeout under sudo kills the root process group', async (t) => {
  const h = await connect({ user: 'dr', sudo: true })
  const r = await h.$.with({ timeoutMs: 1500 })`sleep 97; echo never`.nothrow()
  t.equal(r.signal, 'TIMEOUT')
  t.equal(r.stderr, '', 'the PID line is not shown')
  t.notMatch(await h.$`ps -eo args`.text(), /sleep 97/, 'the sleep (a root process) is gone')
})

t.test('a login user without sudo rights: a clear failure, never a password prompt', async (t) => {
  const h = await connect({ user: 'nosudo', sudo: true })
  const started = Date.now()
  await t.rejects(h.$`id -un`, { code: 'command.failed', host: 'node', stderr: /sudo|password/ })
  t.ok(Date.now() - started < 10_000, 'sudo -n does not wait for a password')
  await t.rejects(h.readFile('/etc/hostname'), { code: 'file.failed', hint: /NOPASSWD/ })
})

t.test('streams under sudo: a write stream finishes once the bytes are on the host, a read stream gives them back', async (t) => {
  const h = await connect({ user: 'dr', sudo: true })
  await h.mkdir('/var/lib/dr-stream', { mode: 0o700 })
  const data = Buffer.alloc(3 << 20, 'x')
  const { pipeline } = await import('node:stream/promises')
  const { Readable } = await import('node:stream')
  const sink = await h.createWriteStream('/var/lib/dr-stream/blob', { mode: 0o640 })
  const started = Date.now()
  await Promise.race([
    pipeline(Readable.from([data.subarray(0, 1 << 20), data.subarray(1 << 20)]), sink as never),
    new Promise((_, reject) => setTimeout(() => reject(new Error('the write stream under sudo never finished')), 30_000).unref()),
  ])
  t.ok(Date.now() - started < 30_000)
  t.equal(await h.$`stat -c '%U %a %s' /var/lib/dr-stream/blob`.text(), `root 640 ${data.length}`)
  const chunks: Buffer[] = []
  const src = (await h.createReadStream('/var/lib/dr-stream/blob')) as NodeJS.ReadableStream & AsyncIterable<Buffer> & { closed: boolean }
  for await (const c of src) chunks.push(c)
  t.equal(Buffer.concat(chunks).length, data.length, 'read back under sudo')
  await new Promise((r) => setImmediate(r))
  t.equal(src.closed, true, "the read stream is closed once read (a reader that waits for 'close' must not hang)")
  await t.rejects(
    (async () => {
      for await (const c of (await h.createReadStream('/var/lib/dr-stream/missing')) as AsyncIterable<Buffer>) void c
    })(),
    { code: 'file.not-found', host: 'node' },
    'a missing file under sudo fails the read',
  )
})
