// known_hosts matching and SSH failure explanations: pure functions, checked against OpenSSH's own tools' output.
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import {
  checkKnownHosts,
  checkPinned,
  fingerprint,
  hostToken,
  keyTypeOf,
  knownHostsLine,
  parseKnownHosts,
  patternsMatch,
  preferredHostKeyAlgorithms,
} from '../../src/transport/known-hosts.ts'
import { sshConnectError } from '../../src/transport/ssh-errors.ts'
import { parseNulList, splitPid } from '../../src/transport/remote-commands.ts'
import { wrapSudo } from '../../src/transport/ssh.ts'
import { isEncryptedKey, passphraseFor } from '../../src/transport/passphrase.ts'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-kh-'))
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
function key(name: string, type = 'ed25519') {
  const f = path.join(dir, name)
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', f])
  const [kt, b64] = fs.readFileSync(f + '.pub', 'utf8').split(' ')
  return { type: kt, b64, blob: Buffer.from(b64, 'base64'), pub: f + '.pub' }
}
const a = key('a')
const b = key('b')
const e = key('e', 'ecdsa')

t.test('fingerprints and key types match ssh-keygen', async (t) => {
  const printed = execFileSync('ssh-keygen', ['-l', '-f', a.pub]).toString().split(' ')[1]
  t.equal(fingerprint(a.blob), printed)
  t.equal(keyTypeOf(a.blob), 'ssh-ed25519')
  t.equal(keyTypeOf(e.blob), 'ecdsa-sha2-nistp256')
})

t.test('host patterns: plain, [host]:port, wildcards, negation, hashed', async (t) => {
  t.equal(hostToken('10.0.0.1', 22), '10.0.0.1')
  t.equal(hostToken('10.0.0.1', 2222), '[10.0.0.1]:2222')
  t.ok(patternsMatch('master1,10.0.0.1', '10.0.0.1'))
  t.notOk(patternsMatch('10.0.0.1', '[10.0.0.1]:2222'), 'a port-22 entry does not cover another port (as in OpenSSH)')
  t.ok(patternsMatch('[10.0.0.1]:2222', '[10.0.0.1]:2222'))
  t.notOk(patternsMatch('[10.0.0.1]:2222', '10.0.0.1'))
  t.ok(patternsMatch('10.0.0.*', '10.0.0.7'))
  t.notOk(patternsMatch('10.0.0.*,!10.0.0.7', '10.0.0.7'), 'negation wins')
  t.ok(patternsMatch('10.0.0.?', '10.0.0.7'))
  t.notOk(patternsMatch('10.0.0.?', '10.0.0.17'))
  t.notOk(patternsMatch('10.0.0.1', '10x0x0x1'), 'dots are literal')
  // Hashed by OpenSSH itself.
  const f = path.join(dir, 'kh-hash')
  fs.writeFileSync(f, `[10.0.0.1]:2222 ${a.type} ${a.b64}\n`)
  execFileSync('ssh-keygen', ['-H', '-f', f], { stdio: 'ignore' })
  const [entry] = parseKnownHosts(fs.readFileSync(f, 'utf8'))
  t.match(entry.patterns, /^\|1\|/)
  t.ok(patternsMatch(entry.patterns, '[10.0.0.1]:2222'))
  t.notOk(patternsMatch(entry.patterns, '10.0.0.1'))
  // And ours is readable by OpenSSH.
  const ours = path.join(dir, 'kh-ours')
  fs.writeFileSync(ours, knownHostsLine('[10.0.0.9]:2200', b.blob, { hashed: true }) + '\n')
  t.match(execFileSync('ssh-keygen', ['-F', '[10.0.0.9]:2200', '-f', ours]).toString(), 'ssh-ed25519')
})

t.test('verdicts: known, unknown, changed (also another key type), revoked, pinned', async (t) => {
  const entries = parseKnownHosts(
    [`# comment`, ``, `m1,10.0.0.1 ${a.type} ${a.b64}`, `[10.0.0.2]:2222 ${e.type} ${e.b64}`, `@revoked * ${b.type} ${b.b64}`, `@cert-authority * ${a.type} ${a.b64}`, 'garbage'].join('\n'),
  )
  t.equal(entries.length, 4)
  t.match(checkKnownHosts(entries, '10.0.0.1', a.blob), { status: 'known', line: 3 })
  t.match(checkKnownHosts(entries, '10.0.0.3', a.blob), { status: 'unknown' }, 'a @cert-authority line does not make a plain key known')
  t.match(checkKnownHosts(entries, '10.0.0.1', e.blob), { status: 'changed', known: [{ keyType: 'ssh-ed25519', fingerprint: fingerprint(a.blob), line: 3 }] })
  t.match(checkKnownHosts(entries, '[10.0.0.2]:2222', a.blob), { status: 'changed' }, 'a key of another type than the recorded one is a change')
  t.match(checkKnownHosts(entries, '10.0.0.9', b.blob), { status: 'revoked', line: 5 })
  t.match(checkPinned([fingerprint(a.blob)], a.blob), { status: 'known' })
  t.match(checkPinned([fingerprint(a.blob) + '='], a.blob), { status: 'known' }, 'padding is ignored')
  t.match(checkPinned([fingerprint(b.blob)], a.blob), { status: 'changed' })
  t.same(preferredHostKeyAlgorithms(entries, '[10.0.0.2]:2222').slice(0, 2), ['ecdsa-sha2-nistp256', 'ssh-ed25519'])
  t.equal(preferredHostKeyAlgorithms([], 'x')[0], 'ssh-ed25519')
})

t.test('SSH failures are explained', async (t) => {
  const c = { host: 'master1', address: '10.0.0.1', port: 22, user: 'root', identityFile: '/k/id', agent: true }
  const err = (message: string, extra: object = {}) => Object.assign(new Error(message), extra)
  t.match(sshConnectError(err('Too many authentication failures', { code: 2 }), c), { code: 'ssh.too-many-auth-failures', host: 'master1', hint: /ssh-add -l/ })
  t.match(sshConnectError(err('All configured authentication methods failed', { level: 'client-authentication' }), c), {
    code: 'ssh.auth-failed',
    message: 'master1: the server refused user root with key /k/id and the ssh-agent keys',
  })
  t.match(sshConnectError(err('connect ECONNREFUSED 10.0.0.1:22', { code: 'ECONNREFUSED' }), c), { code: 'ssh.connection-refused', hint: /sshd is not running/ })
  t.match(sshConnectError(err('connect EHOSTUNREACH', { code: 'EHOSTUNREACH' }), c), { code: 'ssh.host-unreachable', message: /down/ })
  t.match(sshConnectError(err('Timed out while waiting for handshake', { level: 'client-timeout' }), c), { code: 'ssh.timeout', hint: /connectTimeoutMs/ })
  t.match(sshConnectError(err('getaddrinfo ENOTFOUND x', { code: 'ENOTFOUND' }), c), { code: 'ssh.unknown-address', exit: 'usage' })
  t.match(sshConnectError(err('Encrypted private OpenSSH key detected, but no passphrase given'), c), { code: 'ssh.key-unreadable', hint: /passphraseEnv/ })
  t.match(sshConnectError(err('something else'), c), { code: 'ssh.connect-failed', hint: /ssh -p 22 root@10\.0\.0\.1/ })
})

t.test('remote command helpers', async (t) => {
  t.equal(wrapSudo("echo 'x'"), `sudo -n -- bash -c 'echo '\\''x'\\'''`)
  t.same(splitPid(Buffer.from('\x1edr-pid:123\nreal error\n')), { pid: 123, rest: Buffer.from('real error\n') })
  t.same(splitPid(Buffer.from('no pid here')).pid, undefined)
  t.same(parseNulList('b\0a\0.x\0'), ['.x', 'a', 'b'])
})

t.test('encrypted keys: detected; the passphrase comes from the named env var; no prompt without a terminal', async (t) => {
  const f = path.join(dir, 'locked')
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'pw here', '-f', f])
  const locked = fs.readFileSync(f)
  t.ok(isEncryptedKey(locked))
  t.notOk(isEncryptedKey(fs.readFileSync(path.join(dir, 'a'))))
  process.env.DR_TEST_KH_PASS = 'pw here'
  t.equal(await passphraseFor(f, locked, 'DR_TEST_KH_PASS'), 'pw here')
  t.equal(await passphraseFor(f, locked, 'DR_TEST_KH_UNSET'), undefined, 'tests run without a terminal: nobody to ask')
})
