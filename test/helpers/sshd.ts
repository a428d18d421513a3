// A real OpenSSH server on loopback for tests: generated host keys and user key in a temp dir, a free port,
// `sshd -D -e` in the foreground; stop() kills it and removes the dir.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { freeLoopbackPort } from '../../src/transport/local.ts'

export interface SshdOptions {
  /** Port on 127.0.0.1; a free one by default. */
  port?: number
  /** Users who may log in with the generated user key (they must exist on this machine). Default: the current user. */
  users?: string[]
  /** Host key types to generate; the first is the one reported. Default: ['ed25519']. */
  hostKeyTypes?: Array<'ed25519' | 'ecdsa' | 'rsa'>
  /** More sshd_config lines (MaxAuthTries 1, SetEnv …). */
  config?: string[]
  /** Reuse host keys from another server's dir (to simulate the same host), or from a previous run. */
  hostKeysFrom?: string
}

export interface Sshd {
  port: number
  /** The listening sshd's pid (every connection's sshd is forked from it). */
  pid: number
  host: '127.0.0.1'
  /** SHA256:… of the first host key. */
  hostKeyFingerprint: string
  /** `[127.0.0.1]:port ssh-ed25519 AAAA…` — ready for a known_hosts file. */
  knownHostsLine: string
  /** known_hosts lines for every host key type. */
  knownHostsLines: string[]
  /** Private key (no passphrase) authorised for every user. */
  userKeyPath: string
  user: string
  dir: string
  /** Authorise another public key (a line of a .pub file) for a user. */
  authorize(pubLine: string, user?: string): void
  /** Generate a fresh key pair in the dir; returns the private key path (and authorises it when asked). */
  newUserKey(name: string, opts?: { authorize?: boolean; passphrase?: string; type?: 'ed25519' | 'rsa' | 'ecdsa' }): string
  /** sshd's stderr so far (auth failures, errors). */
  log(): string
  stop(): Promise<void>
}

export const freePort = freeLoopbackPort

const pubBlob = (pubFile: string) => Buffer.from(fs.readFileSync(pubFile, 'utf8').trim().split(/\s+/)[1], 'base64')
const fingerprintOf = (blob: Buffer) => 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')

function keygen(file: string, type: string, passphrase = '') {
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', passphrase, '-C', path.basename(file), '-f', file], { stdio: 'ignore' })
}

async function waitForBanner(port: number, child: ChildProcess, log: () => string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}:\n${log()}`)
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1')
      s.setTimeout(1000)
      s.once('data', (d) => {
        s.destroy()
        resolve(d.toString().startsWith('SSH-'))
      })
      s.once('error', () => resolve(false))
      s.once('timeout', () => {
        s.destroy()
        resolve(false)
      })
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`sshd did not answer on port ${port} within ${timeoutMs} ms:\n${log()}`)
}

export async function startSshd(opts: SshdOptions = {}): Promise<Sshd> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-sshd-'))
  const port = opts.port ?? (await freePort())
  const user = os.userInfo().username
  const users = opts.users ?? [user]
  const types = opts.hostKeyTypes ?? ['ed25519']
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 })

  const hostKeys = types.map((t) => {
    const f = path.join(dir, `ssh_host_${t}_key`)
    const from = opts.hostKeysFrom && path.join(opts.hostKeysFrom, `ssh_host_${t}_key`)
    if (from && fs.existsSync(from)) {
      fs.copyFileSync(from, f)
      fs.copyFileSync(from + '.pub', f + '.pub')
      fs.chmodSync(f, 0o600)
    } else keygen(f, t)
    return f
  })
  const userKeyPath = path.join(dir, 'id_ed25519')
  keygen(userKeyPath, 'ed25519')
  const authorize = (pubLine: string, u = users[0]) => fs.appendFileSync(path.join(dir, `authorized_keys.${u}`), pubLine.trim() + '\n')
  for (const u of users) authorize(fs.readFileSync(userKeyPath + '.pub', 'utf8'), u)

  // Sessions get a HOME of their own, empty: bash run by sshd reads ~/.bashrc, and this machine's root .bashrc runs
  // `pyenv init` (about 190 processes per login, and a lock that a killed login leaves behind makes the next ones
  // wait 60 s each). A store host's backup account has no such rc file. SetEnv takes every variable on one line,
  // so the caller's SetEnv lines are merged into it.
  const home = path.join(dir, 'home')
  fs.mkdirSync(home)
  const isSetEnv = (l: string) => /^SetEnv\s/i.test(l)
  const setEnv = [...(opts.config ?? []).filter(isSetEnv).map((l) => l.replace(/^SetEnv\s+/i, '')), `HOME=${home}`]
  // sshd keeps the first value it reads for a keyword, so the caller's lines come first.
  const config = [
    ...(opts.config ?? []).filter((l) => !isSetEnv(l)),
    `SetEnv ${setEnv.join(' ')}`,
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    ...hostKeys.map((k) => `HostKey ${k}`),
    `PidFile ${path.join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${path.join(dir, 'authorized_keys.%u')}`,
    `AllowUsers ${users.join(' ')}`,
    'StrictModes no',
    'UsePAM no',
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'AllowTcpForwarding yes',
    'AllowStreamLocalForwarding yes',
    'Subsystem sftp internal-sftp',
    'LogLevel VERBOSE',
  ]
  const cfgFile = path.join(dir, 'sshd_config')
  fs.writeFileSync(cfgFile, config.join('\n') + '\n')

  let stderr = ''
  const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', cfgFile], { stdio: ['ignore', 'ignore', 'pipe'] })
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const log = () => stderr
  try {
    await waitForBanner(port, child, log)
  } catch (e) {
    child.kill('SIGKILL')
    fs.rmSync(dir, { recursive: true, force: true })
    throw e
  }

  const token = port === 22 ? '127.0.0.1' : `[127.0.0.1]:${port}`
  const knownHostsLines = hostKeys.map((k) => {
    const [type, b64] = fs.readFileSync(k + '.pub', 'utf8').trim().split(/\s+/)
    return `${token} ${type} ${b64}`
  })
  return {
    port,
    pid: child.pid!,
    host: '127.0.0.1',
    hostKeyFingerprint: fingerprintOf(pubBlob(hostKeys[0] + '.pub')),
    knownHostsLine: knownHostsLines[0],
    knownHostsLines,
    userKeyPath,
    user: users[0],
    dir,
    authorize,
    newUserKey(name, o = {}) {
      const f = path.join(dir, name)
      keygen(f, o.type ?? 'ed25519', o.passphrase ?? '')
      if (o.authorize) authorize(fs.readFileSync(f + '.pub', 'utf8'))
      return f
    },
    log,
    stop: () =>
      new Promise<void>((resolve) => {
        const done = () => {
          fs.rmSync(dir, { recursive: true, force: true })
          resolve()
        }
        if (child.exitCode !== null || child.signalCode !== null) return done()
        child.once('exit', done)
        child.kill('SIGTERM')
      }),
  }
}
