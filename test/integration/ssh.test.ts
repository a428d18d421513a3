// SshTransport against a real OpenSSH server on loopback: exec, quoting, exit codes, timeouts, sudo, SFTP, tunnels.
import t from 'tap'
import crypto from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { once } from 'node:events'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import { startSshd, type Sshd } from '../helpers/sshd.ts'
import { SshTransport, type SshTarget } from '../../src/transport/ssh.ts'
import { SSH_DEFAULTS } from '../../src/inventory/defaults.ts'
import type { SshSettings } from '../../src/inventory/types.ts'

// Real processes on a busy machine: more than tap's default 30 s per file.
t.setTimeout(240_000)

let sshd: Sshd
let shimDir: string
let sudoLog: string
const open: SshTransport[] = []

t.before(async () => {
  // No sudo is installed here; a shim first in the session's PATH records how it was called and runs the command.
  shimDir = fs.mkdtempSync('/tmp/dr-sudo-shim-')
  sudoLog = path.join(shimDir, 'calls.log')
  fs.writeFileSync(
    path.join(shimDir, 'sudo'),
    `#!/bin/sh\necho "$*" >> ${sudoLog}\n[ "$1" = -n ] || { echo "sudo: a password is required" >&2; exit 1; }\nshift\n[ "$1" = -- ] && shift\nexec "$@"\n`,
    { mode: 0o755 },
  )
  sshd = await startSshd({ config: [`SetEnv PATH=${shimDir}:/usr/local/bin:/usr/bin:/bin`] })
  fs.writeFileSync(path.join(sshd.dir, 'known_hosts'), sshd.knownHostsLine + '\n')
})
t.teardown(async () => {
  await Promise.all(open.map((c) => c.close()))
  await sshd.stop()
  fs.rmSync(shimDir, { recursive: true, force: true })
})

function target(ssh: Partial<SshSettings> = {}): SshTarget {
  return {
    name: 'h1',
    address: '127.0.0.1',
    hostKeys: [],
    ssh: { ...SSH_DEFAULTS, port: sshd.port, identityFile: sshd.userKeyPath, knownHosts: path.join(sshd.dir, 'known_hosts'), ...ssh },
  }
}
async function connect(ssh: Partial<SshSettings> = {}) {
  const c = await SshTransport.connect(target(ssh))
  open.push(c)
  return c
}

const hostile = ['$(touch /tmp/dr-pwned-ssh)', '`id`', "it's", 'a "b" c', 'line1\nline2', 'x; rm -rf /nope', '', '{{.Name}}', '\\', "'", '-n', '*', '~root', '$HOME', 'a\tb']

t.test('exec: output, exit codes, and hostile values round-trip through the remote shell', async (t) => {
  const h = await connect()
  const r = await h.$`echo out; echo err >&2; exit 0`
  t.match(r, { host: 'h1', exitCode: 0, ok: true, stdout: 'out\n', stderr: 'err\n' })
  t.ok(r.durationMs >= 0)
  for (const v of hostile) t.equal((await h.$`printf %s ${v}`).stdout, v, `value ${JSON.stringify(v)}`)
  const all = await h.$`printf '%s\\0' ${hostile}`
  t.same(all.stdout.split('\0').slice(0, -1), hostile, 'an array becomes several words')
  t.notOk(fs.existsSync('/tmp/dr-pwned-ssh'), 'nothing was executed from a value')
  const input = await h.exec('cat', { input: 'from stdin\n' })
  t.equal(input.stdout, 'from stdin\n')

  await t.rejects(h.$`echo boom >&2; exit 3`, { code: 'command.failed', host: 'h1', exitStatus: 3, stderr: 'boom' })
  const failed = await h.$`exit 7`.nothrow()
  t.match(failed, { exitCode: 7, ok: false })
  t.equal(await h.$`echo '{"a":[1,2]}'`.json().then((j) => JSON.stringify(j)), '{"a":[1,2]}')
  t.equal(await h.$`echo '  x  '`.text(), 'x')
})

t.test('timeouts: a command past commandTimeoutMs is killed and reported as TIMEOUT', async (t) => {
  const h = await connect({ commandTimeoutMs: 60_000 })
  const started = Date.now()
  const r = await h.$.with({ timeoutMs: 400 })`sleep 20`.nothrow()
  t.equal(r.signal, 'TIMEOUT')
  t.equal(r.ok, false)
  t.ok(Date.now() - started < 5000, `returned in ${Date.now() - started} ms`)
  await t.rejects(h.exec('sleep 20', { timeoutMs: 300 }), { code: 'command.failed', message: /timed out/ })
  const short = await connect({ commandTimeoutMs: 300 })
  t.equal((await short.exec('sleep 20', { nothrow: true })).signal, 'TIMEOUT', 'the inventory default applies')
  t.equal((await h.$`echo still usable`.text()), 'still usable', 'the connection survives a killed command')
})

t.test('sudo: commands are wrapped in `sudo -n` when the inventory asks', async (t) => {
  fs.rmSync(sudoLog, { force: true })
  const h = await connect({ sudo: true })
  const r = await h.$`printf %s ${"it's $(not run)"}`
  t.equal(r.stdout, "it's $(not run)", 'quoting survives the extra sh -c')
  t.match(r.command, /^sudo -n -- bash -c /)
  t.match(fs.readFileSync(sudoLog, 'utf8'), /^-n -- bash -c printf %s/m, 'sudo was called with -n')
  const plain = await h.exec('echo plain', { sudo: false })
  t.equal(plain.command, 'echo plain', 'sudo: false per command opts out')

  // File operations go through sudo too (SFTP cannot change user).
  const dir = fs.mkdtempSync('/tmp/dr-ssh-sudo-')
  const file = path.join(dir, 'f.txt')
  await h.writeFile(file, 'secret\n', { mode: 0o600 })
  t.equal(fs.readFileSync(file, 'utf8'), 'secret\n')
  t.equal(fs.statSync(file).mode & 0o777, 0o600)
  t.equal((await h.readFile(file)).toString(), 'secret\n')
  t.same(await h.readdir(dir), ['f.txt'])
  t.same(await h.readdir(path.join(dir, 'missing')), [])
  await h.rename(file, file + '.2')
  await h.unlink(file + '.2')
  t.same(await h.readdir(dir), [])
  await t.rejects(h.readFile(file), { code: 'file.not-found', host: 'h1' })
  fs.rmSync(dir, { recursive: true })
})

t.test('SFTP: read, write with mode, streams, rename, unlink, readdir, mkdir -p', async (t) => {
  const h = await connect()
  const dir = fs.mkdtempSync('/tmp/dr-ssh-sftp-')
  const f = path.join(dir, 'a', 'b', 'c.bin')
  await h.mkdir(path.dirname(f))
  t.ok(fs.statSync(path.dirname(f)).isDirectory())
  const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
  await h.writeFile(f, bytes, { mode: 0o640 })
  t.same(fs.readFileSync(f), bytes, 'binary content is unchanged')
  t.equal(fs.statSync(f).mode & 0o777, 0o640)
  await h.writeFile(f, 'again', { mode: 0o600 })
  t.equal(fs.statSync(f).mode & 0o777, 0o600, 'the mode of an existing file is set too')
  t.equal((await h.readFile(f)).toString(), 'again')

  const big = Buffer.alloc(3 * 1024 * 1024, 7)
  const ws = await h.createWriteStream(path.join(dir, 'big'), { mode: 0o600 })
  await pipeline(Readable.from([big.subarray(0, 1e6), big.subarray(1e6)]), ws as NodeJS.WritableStream)
  t.equal(fs.statSync(path.join(dir, 'big')).size, big.length, 'the stream finished only when the bytes were on the host')
  const chunks: Buffer[] = []
  for await (const c of (await h.createReadStream(path.join(dir, 'big'))) as AsyncIterable<Buffer>) chunks.push(c)
  t.equal(Buffer.concat(chunks).length, big.length)
  await t.rejects(h.createReadStream(path.join(dir, 'nope')), { code: 'file.not-found' })

  await h.rename(path.join(dir, 'big'), path.join(dir, 'big2'))
  t.same(await h.readdir(dir), ['a', 'big2'])
  await h.unlink(path.join(dir, 'big2'))
  t.same(await h.readdir(dir), ['a'])
  t.same(await h.readdir(path.join(dir, 'missing')), [], 'a missing directory lists as empty')
  await t.rejects(h.readFile(path.join(dir, 'missing')), { code: 'file.not-found', host: 'h1' })
  fs.rmSync(dir, { recursive: true })
})

t.test('SFTP upload: several writes in flight, the bytes and the mode right, a missing directory named', async (t) => {
  const h = await connect()
  const dir = fs.mkdtempSync('/tmp/dr-ssh-upload-')
  // Count the writes sent and not yet answered, on the very SFTP session the stream uses.
  const sftp = await h.sftp()
  const write = sftp.write.bind(sftp)
  let inFlight = 0
  let most = 0
  sftp.write = ((handle: Buffer, buf: Buffer, off: number, len: number, pos: number, cb: (e?: Error) => void) => {
    most = Math.max(most, ++inFlight)
    write(handle, buf, off, len, pos, (e?: Error | null) => (inFlight--, cb(e ?? undefined)))
  }) as typeof sftp.write
  t.teardown(() => void (sftp.write = write))

  const file = path.join(dir, 'upload')
  fs.writeFileSync(file, 'old and longer than nothing', { mode: 0o644 })
  const data = crypto.randomBytes(6 * 1024 * 1024)
  const chunks = Array.from({ length: data.length / (64 << 10) }, (_, i) => data.subarray(i * (64 << 10), (i + 1) * (64 << 10)))
  await pipeline(Readable.from(chunks), (await h.createWriteStream(file, { mode: 0o600 })) as NodeJS.WritableStream)
  t.ok(most > 1, `more than one write was in flight (at most ${most})`)
  t.ok(most <= 17, `no more than the 1 MiB window (and the write that waits for room) was in flight (${most} writes of 64 KiB)`)
  t.ok(fs.readFileSync(file).equals(data), 'the file holds exactly the bytes written, the old ones gone')
  t.equal(fs.statSync(file).mode & 0o777, 0o600, 'the mode asked for, on a file that existed with another')

  const empty = path.join(dir, 'empty')
  await pipeline(Readable.from([]), (await h.createWriteStream(empty, { mode: 0o640 })) as NodeJS.WritableStream)
  t.equal(fs.statSync(empty).size, 0, 'an empty stream makes an empty file')
  t.equal(fs.statSync(empty).mode & 0o777, 0o640, 'with its mode')

  await t.rejects(
    pipeline(Readable.from([data.subarray(0, 1000)]), (await h.createWriteStream(path.join(dir, 'missing', 'f'))) as NodeJS.WritableStream),
    { code: 'file.not-found', host: 'h1', message: /cannot write .*missing\/f/ },
    'a directory that is not there is named, with the path',
  )
  fs.rmSync(dir, { recursive: true })
})

t.test('a closed SFTP session is opened again: file operations after it get their answers', async (t) => {
  const h = await connect()
  const dir = fs.mkdtempSync('/tmp/dr-ssh-reopen-')
  await h.writeFile(path.join(dir, 'a'), 'one')
  const first = await h.sftp()
  first.end() // as when sftp-server dies: the channel closes, the SSH connection stays
  await once(first, 'close')
  const within = <T>(p: Promise<T>) => Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer in 10 s')), 10_000).unref())])
  t.equal((await within(h.readFile(path.join(dir, 'a')))).toString(), 'one', 'a read after the close gets its answer')
  t.not(await h.sftp(), first, 'from a new session')
  await within(pipeline(Readable.from([Buffer.from('two')]), (await h.createWriteStream(path.join(dir, 'b'))) as NodeJS.WritableStream))
  t.equal(fs.readFileSync(path.join(dir, 'b'), 'utf8'), 'two', 'and so does an upload')
  fs.rmSync(dir, { recursive: true })
})

t.test('tunnels: TCP to a port on the host; a command as a stream, with no listener', async (t) => {
  const h = await connect()
  const echo = net.createServer((s) => s.pipe(s))
  echo.listen(0, '127.0.0.1')
  await once(echo, 'listening')
  const echoPort = (echo.address() as net.AddressInfo).port
  const sockPath = path.join(fs.mkdtempSync('/tmp/dr-ssh-unix-'), 'echo.sock')
  const unix = net.createServer((s) => s.on('data', (d) => s.write('unix:' + d.toString())))
  unix.listen(sockPath)
  await once(unix, 'listening')

  const roundTrip = async (port: number, msg: string) => {
    const s = net.connect(port, '127.0.0.1')
    await once(s, 'connect')
    s.write(msg)
    const [d] = await once(s, 'data')
    s.destroy()
    return d.toString()
  }
  const tcp = await h.forward('127.0.0.1', echoPort)
  t.not(tcp.localPort, echoPort)
  t.equal(await roundTrip(tcp.localPort, 'hello'), 'hello')
  t.equal(await roundTrip(tcp.localPort, 'twice'), 'twice', 'a tunnel serves several connections')
  // A unix socket on the host through a command's stdio (as `docker system dial-stdio` reaches docker's socket).
  const u = await h.openStream([process.execPath, '-e', 'const s = require("net").connect(process.argv[1]); process.stdin.pipe(s); s.pipe(process.stdout)', sockPath])
  u.write('ping')
  const [pong] = await once(u, 'data')
  t.equal(pong.toString(), 'unix:ping')
  u.destroy()
  const failing = await h.openStream(['sh', '-c', 'echo nope >&2; exit 4'])
  const [err] = await once(failing, 'error')
  t.match(err, { code: 'transport.stream-failed', host: 'h1', exitStatus: 4, stderr: 'nope' })
  await tcp.close()
  await t.rejects(roundTrip(tcp.localPort, 'closed'), /ECONNREFUSED/, 'a closed tunnel stops listening')
  echo.close()
  unix.close()
  fs.rmSync(path.dirname(sockPath), { recursive: true })
})

t.test('connect failures are explained', async (t) => {
  const dead = await new Promise<number>((r) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port
      s.close(() => r(p))
    })
  })
  await t.rejects(SshTransport.connect(target({ port: dead })), { code: 'ssh.connection-refused', message: /nothing listens/, hint: /sshd is not running/ })

  const stranger = sshd.newUserKey('stranger')
  await t.rejects(SshTransport.connect(target({ identityFile: stranger })), {
    code: 'ssh.auth-failed',
    message: new RegExp(`refused user ${sshd.user} with key ${stranger}`),
    hint: /authorized_keys/,
  })
  await t.rejects(SshTransport.connect(target({ identityFile: '/nonexistent/key' })), { code: 'ssh.key-unreadable' })

  const locked = sshd.newUserKey('locked', { authorize: true, passphrase: 'correct horse' })
  await t.rejects(SshTransport.connect(target({ identityFile: locked, passphraseEnv: 'DR_TEST_NO_SUCH_VAR' })), { code: 'ssh.key-unreadable', hint: /passphrase/ })
  process.env.DR_TEST_PASSPHRASE = 'correct horse'
  const ok = await SshTransport.connect(target({ identityFile: locked, passphraseEnv: 'DR_TEST_PASSPHRASE' }))
  t.equal(await ok.$`echo unlocked`.text(), 'unlocked', 'the passphrase comes from the env var named by passphraseEnv')
  await ok.close()
})

t.test('a closed connection gives failed results, not hangs', async (t) => {
  const h = await connect()
  await h.close()
  const r = await h.exec('echo x', { nothrow: true })
  t.equal(r.ok, false)
  t.match(r.stderr, /closed/)
})
