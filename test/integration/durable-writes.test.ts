// What dr calls stored or kept must survive a power cut: the data fsynced before the file gets its name, the
// directory fsynced after the rename. A crash cannot be staged here, so the test watches the system calls with
// strace: the calls, their files and their order are the proof. Without the fsyncs an SFTP upload is written and
// renamed straight out of the page cache, and a backup reported stored can come back empty after the store host
// loses power.
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { randomBytes } from 'node:crypto'
import { startSshd, type Sshd } from '../helpers/sshd.ts'
import { SshTransport } from '../../src/transport/ssh.ts'
import { SSH_DEFAULTS } from '../../src/inventory/defaults.ts'
import { SftpStore } from '../../src/backup/store-sftp.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')
const SYSCALLS = 'trace=fsync,fdatasync,syncfs,sync,rename,renameat,renameat2,execve'
const scratch = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dr-durable-')))
t.teardown(() => fs.rmSync(scratch, { recursive: true, force: true }))

type Call = { kind: 'fsync'; file: string } | { kind: 'sync' } | { kind: 'rename'; from: string; to: string } | { kind: 'exec'; program: string }

/** strace -f -y output → the calls that make data durable or give it a name, in order, the failed ones left out. */
function parseTrace(text: string): Call[] {
  const calls: Call[] = []
  for (const line of text.split('\n')) {
    if (!/= 0$/.test(line.trim())) continue
    let m = /\b(?:fsync|fdatasync|syncfs)\(\d+<([^>]*)>\)/.exec(line)
    if (m) {
      calls.push({ kind: 'fsync', file: m[1] })
      continue
    }
    m = /\bexecve\("([^"]+)"/.exec(line)
    if (m) {
      calls.push({ kind: 'exec', program: m[1] })
      continue
    }
    if (/\bsync\(\)/.test(line)) {
      calls.push({ kind: 'sync' })
      continue
    }
    m = /\brename(?:at2?)?\((?:[^,]+, )?"([^"]+)", (?:[^,]+, )?"([^"]+)"/.exec(line)
    if (m) calls.push({ kind: 'rename', from: m[1], to: m[2] })
  }
  return calls
}

/**
 * The durable-write order for `final`, written first under a temporary name in the same directory: the temporary
 * file fsynced, then renamed to `final`, then the directory fsynced (or everything synced). Returns what is wrong.
 */
function durableOrder(calls: Call[], final: string): string | undefined {
  const r = calls.findIndex((c) => c.kind === 'rename' && c.to === final)
  if (r < 0) return `no rename to ${final} in ${JSON.stringify(calls)}`
  const tmp = (calls[r] as { from: string }).from
  const dataSynced = calls.slice(0, r).some((c) => (c.kind === 'fsync' && c.file === tmp) || c.kind === 'sync')
  if (!dataSynced) return `${tmp} was renamed to ${final} without an fsync before it: ${JSON.stringify(calls)}`
  const dir = path.dirname(final)
  const dirSynced = calls.slice(r + 1).some((c) => (c.kind === 'fsync' && c.file === dir) || c.kind === 'sync')
  if (!dirSynced) return `${dir} was not fsynced after the rename: ${JSON.stringify(calls)}`
  return undefined
}

t.test('the parser and the order check fail what is not durable', async (t) => {
  const trace = [
    '12 fsync(5</s/.a.tmp>) = 0',
    '12 rename("/s/.a.tmp", "/s/a") = 0',
    '12 fsync(6</s>) = 0',
    '13 renameat2(AT_FDCWD, "/s/.b.tmp", AT_FDCWD, "/s/b", RENAME_NOREPLACE) = 0',
    '13 fsync(7</s>) = 0',
    '14 fsync(8</s/.c.tmp>) = -1 EIO (Input/output error)',
    '14 rename("/s/.c.tmp", "/s/c") = 0',
  ].join('\n')
  const calls = parseTrace(trace)
  t.equal(durableOrder(calls, '/s/a'), undefined, 'fsync, rename, directory fsync: durable')
  t.match(durableOrder(calls, '/s/b'), /without an fsync before it/, 'a rename with no fsync of its file before it is not')
  t.match(durableOrder(calls, '/s/c'), /without an fsync before it/, 'a failed fsync does not count')
  t.match(durableOrder(parseTrace('1 fsync(3</s/.d>) = 0\n1 rename("/s/.d", "/s/d") = 0'), '/s/d'), /not fsynced after the rename/, 'no directory fsync: not durable')
})

/** Run a TypeScript snippet in a child node under strace; its calls. */
function traceNode(code: string): Call[] {
  const file = path.join(scratch, `child-${randomBytes(3).toString('hex')}.mts`)
  fs.writeFileSync(file, code)
  const out = `${file}.trace`
  const r = spawnSync('strace', ['-f', '-y', '-qq', '-e', SYSCALLS, '-o', out, process.execPath, '--import', 'tsx', file], { cwd: ROOT, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`the child failed (${r.status}): ${r.stderr}`)
  return parseTrace(fs.readFileSync(out, 'utf8'))
}

t.test('this machine: a state file and a directory store', async (t) => {
  const dir = path.join(scratch, 'local')
  fs.mkdirSync(dir)
  const calls = traceNode(`
    import { Readable } from 'node:stream'
    import { writeStateFile } from ${JSON.stringify(path.join(ROOT, 'src/core/state-file.ts'))}
    import { DirStore } from ${JSON.stringify(path.join(ROOT, 'src/backup/store-dir.ts'))}
    writeStateFile(${JSON.stringify(path.join(dir, 'decision.json'))}, { survivor: 'master3' })
    await new DirStore('d', ${JSON.stringify(path.join(dir, 'store'))}).save('obj', Readable.from([Buffer.alloc(1 << 20, 7)]))
  `)
  t.equal(durableOrder(calls, path.join(dir, 'decision.json')), undefined, 'the state file (a failover decision): fsync, rename, directory fsync')
  t.equal(durableOrder(calls, path.join(dir, 'store', 'obj')), undefined, 'the directory store: fsync, rename, directory fsync')
  t.equal(fs.readFileSync(path.join(dir, 'store', 'obj')).length, 1 << 20, 'the object is whole')
})

t.test('an SFTP store: the data fsynced on the store host before the rename, the directory after', async (t) => {
  const sshd: Sshd = await startSshd()
  t.teardown(() => sshd.stop())
  fs.writeFileSync(path.join(sshd.dir, 'known_hosts'), sshd.knownHostsLine + '\n')
  // strace follows every connection sshd forks from now on: the session's internal-sftp and the shells it starts.
  const out = path.join(scratch, 'sshd.trace')
  const tracer = spawn('strace', ['-f', '-y', '-qq', '-e', SYSCALLS, '-o', out, '-p', String(sshd.pid)], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  tracer.stderr!.on('data', (d: Buffer) => (stderr += d))
  const exited = new Promise((resolve) => tracer.once('exit', resolve))
  t.teardown(() => tracer.kill('SIGKILL'))
  // -qq hides "attached": the trace file exists once strace runs; give it a moment to seize the process.
  for (let i = 0; i < 50 && !fs.existsSync(out); i++) await new Promise((r) => setTimeout(r, 100))
  await new Promise((r) => setTimeout(r, 300))
  // Attaching to a process that is not strace's own child takes CAP_SYS_PTRACE (root here) where yama allows it.
  t.ok(fs.existsSync(out) && tracer.exitCode === null, `strace is attached to sshd ${sshd.pid} ${stderr}`)

  const ssh = await SshTransport.connect({
    name: 'offsite',
    address: '127.0.0.1',
    hostKeys: [],
    ssh: { ...SSH_DEFAULTS, port: sshd.port, user: sshd.user, identityFile: sshd.userKeyPath, knownHosts: path.join(sshd.dir, 'known_hosts') },
  })
  t.teardown(() => ssh.close())
  const dir = path.join(scratch, 'sftp', 'dr')
  fs.mkdirSync(dir, { recursive: true }) // a store that exists (a missing one is made by one `mkdir -p` in a shell)
  const store = new SftpStore('offsite', 'offsite', dir, async () => ssh)
  const body = randomBytes(3 << 20)
  await store.save('etcd-backup.db.br.age', Readable.from([body.subarray(0, 1 << 20), body.subarray(1 << 20)]))
  await store.save('etcd-backup.json', Readable.from([Buffer.from('{"format":"dr-backup/1"}\n')]))
  await ssh.close()
  tracer.kill('SIGINT') // strace detaches from sshd and exits, writing what it has
  await exited

  const calls = parseTrace(fs.readFileSync(out, 'utf8'))
  t.equal(durableOrder(calls, path.join(dir, 'etcd-backup.db.br.age')), undefined, 'the payload: fsync, rename, directory fsync')
  t.equal(durableOrder(calls, path.join(dir, 'etcd-backup.json')), undefined, 'the metadata record: the same')
  t.ok(
    calls.some((c) => c.kind === 'fsync' && c.file.includes('etcd-backup.db.br.age')),
    'the data was fsynced through the open SFTP handle (fsync@openssh.com), not by a global sync',
  )
  // The directory too, on a handle of its own: a shell started on the store host costs its login shell's start-up
  // (on this machine root's rc file made each one 0.2 s).
  // (sshd re-executes itself for each connection: that one is not a command.)
  const started = calls.filter((c) => c.kind === 'exec' && c.program !== '/usr/sbin/sshd')
  t.same(started, [], 'no command was started on the store host: SFTP alone')
  t.ok(calls.some((c) => c.kind === 'exec'), 'the trace does see programs started (the connection\'s own sshd)')
  t.same(fs.readFileSync(path.join(dir, 'etcd-backup.db.br.age')), body, 'the stored bytes are the ones sent')
})
