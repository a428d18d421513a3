// Host-key checking against a real sshd: unknown and changed keys are refused, hashed entries and pins accepted,
// acceptNewHostKeys records a new key (and still refuses a changed one).
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { startSshd, type Sshd } from '../helpers/sshd.ts'
import { SshTransport } from '../../src/transport/ssh.ts'
import { SSH_DEFAULTS } from '../../src/inventory/defaults.ts'
import { parseKnownHosts } from '../../src/transport/known-hosts.ts'

// Real processes on a busy machine: more than tap's default 30 s per file.
t.setTimeout(240_000)

let sshd: Sshd
let multi: Sshd
t.before(async () => {
  ;[sshd, multi] = await Promise.all([startSshd(), startSshd({ hostKeyTypes: ['ed25519', 'ecdsa', 'rsa'] })])
})
t.teardown(async () => {
  await Promise.all([sshd.stop(), multi.stop()])
})

let n = 0
function knownHostsFile(...lines: string[]): string {
  const f = path.join(sshd.dir, `known_hosts.${n++}`)
  fs.writeFileSync(f, lines.map((l) => l + '\n').join(''))
  return f
}

const connect = (s: Sshd, knownHosts: string, extra: { hostKeys?: string[]; acceptNewHostKeys?: boolean } = {}) =>
  SshTransport.connect({
    name: 'node1',
    address: '127.0.0.1',
    hostKeys: extra.hostKeys ?? [],
    ssh: { ...SSH_DEFAULTS, port: s.port, identityFile: s.userKeyPath, knownHosts, acceptNewHostKeys: !!extra.acceptNewHostKeys },
  })

/** Connect, run a command, close: the command's output ('ok') proves the session works. */
async function echo(p: Promise<SshTransport>): Promise<string> {
  const c = await p
  try {
    return await c.$`echo ok`.text()
  } finally {
    await c.close()
  }
}

t.test('a known key (plain entry) is accepted', async (t) => {
  t.equal(await echo(connect(sshd, knownHostsFile('# comment', '', sshd.knownHostsLine))), 'ok', 'connected')
})

t.test('an unknown key is refused, with the fingerprint and three ways to trust it', async (t) => {
  const kh = knownHostsFile(`[127.0.0.1]:1 ${sshd.knownHostsLine.split(' ').slice(1).join(' ')}`) // same key, other port
  const e = await connect(sshd, kh).catch((e) => e)
  t.match(e, { code: 'ssh.hostkey-unknown', host: 'node1' })
  t.match(e.message, sshd.hostKeyFingerprint)
  t.match(e.hint, `ssh-keyscan -p ${sshd.port} 127.0.0.1`)
  t.match(e.hint, `hostKeys: ["${sshd.hostKeyFingerprint}"]`)
  t.match(e.hint, 'acceptNewHostKeys: true')
  const missing = await connect(sshd, path.join(sshd.dir, 'no-such-known-hosts')).catch((e) => e)
  t.match(missing, { code: 'ssh.hostkey-unknown' }, 'a missing known_hosts file means every key is unknown')
})

t.test('a changed key is refused, even with acceptNewHostKeys', async (t) => {
  const other = sshd.newUserKey('other-host-key') // any ed25519 key stands in for the old host key
  const [type, b64] = fs.readFileSync(other + '.pub', 'utf8').split(/\s+/)
  const kh = knownHostsFile(`[127.0.0.1]:${sshd.port} ${type} ${b64}`)
  for (const acceptNewHostKeys of [false, true]) {
    const e = await connect(sshd, kh, { acceptNewHostKeys }).catch((e) => e)
    t.match(e, { code: 'ssh.hostkey-changed', host: 'node1' }, `acceptNewHostKeys: ${acceptNewHostKeys}`)
    t.match(e.message, /CHANGED/)
    t.match(e.message, sshd.hostKeyFingerprint)
    t.match(e.hint, `ssh-keygen -R '[127.0.0.1]:${sshd.port}'`)
  }
  t.equal(fs.readFileSync(kh, 'utf8').split('\n').filter(Boolean).length, 1, 'nothing was recorded')
})

t.test('acceptNewHostKeys records an unknown key, which is then known', async (t) => {
  const kh = path.join(sshd.dir, 'sub', 'known_hosts.accept')
  t.equal(await echo(connect(sshd, kh, { acceptNewHostKeys: true })), 'ok', 'connected and recorded')
  const recorded = fs.readFileSync(kh, 'utf8').trim()
  t.equal(recorded, sshd.knownHostsLine)
  t.equal(fs.statSync(kh).mode & 0o777, 0o600)
  t.equal(await echo(connect(sshd, kh)), 'ok', 'the recorded key is trusted without the option')
  // OpenSSH reads the line we wrote.
  const out = execFileSync('ssh-keygen', ['-F', `[127.0.0.1]:${sshd.port}`, '-f', kh]).toString()
  t.match(out, 'ssh-ed25519')
})

t.test('hashed entries (ssh-keygen -H, ssh-keyscan -H) are accepted', async (t) => {
  const kh = knownHostsFile(sshd.knownHostsLine)
  execFileSync('ssh-keygen', ['-H', '-f', kh], { stdio: 'ignore' })
  const text = fs.readFileSync(kh, 'utf8')
  t.match(text, /^\|1\|/, 'the file is hashed')
  t.notMatch(text, '127.0.0.1')
  t.equal(await echo(connect(sshd, kh)), 'ok', 'hashed known_hosts accepted')

  const scanned = execFileSync('ssh-keyscan', ['-H', '-t', 'ed25519', '-p', String(sshd.port), '127.0.0.1'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString()
  t.equal(await echo(connect(sshd, knownHostsFile(scanned.trim()))), 'ok', 'ssh-keyscan -H output accepted')
})

t.test('pinned fingerprints replace known_hosts', async (t) => {
  const empty = knownHostsFile()
  t.equal(await echo(connect(sshd, empty, { hostKeys: [sshd.hostKeyFingerprint] })), 'ok', 'the pinned key is accepted')
  const wrong = 'SHA256:' + 'A'.repeat(43)
  const e = await connect(sshd, knownHostsFile(sshd.knownHostsLine), { hostKeys: [wrong] }).catch((e) => e)
  t.match(e, { code: 'ssh.hostkey-changed' }, 'a key that is not pinned is refused even when known_hosts has it')
  t.match(e.message, wrong)
})

t.test('ecdsa and rsa entries: the recorded key type is asked for first', async (t) => {
  const [ed, ecdsa, rsa] = multi.knownHostsLines
  t.match(ecdsa, / ecdsa-sha2-nistp256 /)
  t.match(rsa, / ssh-rsa /)
  for (const [name, line] of [['ed25519', ed], ['ecdsa', ecdsa], ['rsa', rsa]]) {
    t.equal(await echo(connect(multi, knownHostsFile(line))), 'ok', `only an ${name} entry`)
  }
  const rsaKey = parseKnownHosts(rsa)[0].key
  t.ok(rsaKey.length > 200)
})
