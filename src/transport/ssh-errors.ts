// Well-known SSH failures, turned into a plain explanation and the next thing to try.
import { DrError } from '../core/error.ts'

export interface SshContext {
  host: string
  address: string
  port: number
  user: string
  identityFile?: string
  agent: boolean
  via?: string
}

const where = (c: SshContext) => `${c.user}@${c.address}:${c.port}${c.via ? ` (through ${c.via})` : ''}`

/** Map an error from ssh2 (or the socket under it) while connecting. Already-mapped DrErrors pass through. */
export function sshConnectError(e: unknown, c: SshContext): DrError {
  if (e instanceof DrError) return e
  const err = e as Error & { code?: string | number; level?: string }
  const msg = err?.message ?? String(e)
  const base = { host: c.host, doing: `connect to ${where(c)}`, cause: e, stderr: msg }
  const keys = [c.identityFile ? `key ${c.identityFile}` : undefined, c.agent ? 'the ssh-agent keys' : undefined].filter(Boolean).join(' and ') || 'no key (identityFile is not set and agent is off)'

  if (/too many authentication failures/i.test(msg))
    return new DrError({
      ...base,
      code: 'ssh.too-many-auth-failures',
      message: `${c.host}: the server closed the connection: "Too many authentication failures" — more keys were offered than its MaxAuthTries allows`,
      hint: c.agent
        ? 'the ssh-agent offers every key it holds (check `ssh-add -l`); set ssh.identityFile to the one key this host accepts and ssh.agent: false (what IdentitiesOnly=yes does for OpenSSH), or remove keys from the agent'
        : 'set ssh.identityFile to the one key this host accepts; check the server\'s MaxAuthTries',
    })
  if (err?.level === 'client-authentication' || /authentication methods failed/i.test(msg))
    return new DrError({
      ...base,
      code: 'ssh.auth-failed',
      message: `${c.host}: the server refused user ${c.user} with ${keys}`,
      hint: `check that the public key is in ~${c.user}/.ssh/authorized_keys on ${c.address}, that ssh.user is right, and try \`ssh -i ${c.identityFile ?? 'KEY'} -p ${c.port} ${c.user}@${c.address} true\``,
    })
  if (/encrypted private key|bad passphrase|no passphrase given|Cannot parse privateKey/i.test(msg))
    return new DrError({
      ...base,
      code: 'ssh.key-unreadable',
      message: `${c.host}: cannot use the private key ${c.identityFile}: ${msg}`,
      hint: 'if the key has a passphrase, put it in the environment variable named by ssh.passphraseEnv (default DR_SSH_PASSPHRASE)',
      exit: 'usage',
    })
  switch (err?.code) {
    case 'ECONNREFUSED':
      return new DrError({
        ...base,
        code: 'ssh.connection-refused',
        message: `${c.host}: connection refused at ${c.address}:${c.port} — nothing listens there`,
        hint: `sshd is not running on ${c.address}, or the port is wrong (ssh.port is ${c.port}); check \`systemctl status sshd\` on the host`,
      })
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
      return new DrError({
        ...base,
        code: 'ssh.host-unreachable',
        message: `${c.host}: ${c.address} cannot be reached (${err.code}) — the host is down or there is no route to it`,
        hint: 'check that the host is powered on and on the network; a lost site shows up as this',
      })
    case 'ETIMEDOUT':
      return new DrError({
        ...base,
        code: 'ssh.timeout',
        message: `${c.host}: no answer from ${c.address}:${c.port} (${err.code}) — the host is down or a firewall drops the traffic`,
        hint: 'check that the host is up; raise ssh.connectTimeoutMs if the network is slow',
      })
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new DrError({
        ...base,
        code: 'ssh.unknown-address',
        message: `${c.host}: the name ${c.address} does not resolve`,
        hint: 'check hosts.<name>.address in the inventory',
        exit: 'usage',
      })
    case 'ECONNRESET':
      return new DrError({
        ...base,
        code: 'ssh.connection-reset',
        message: `${c.host}: the connection to ${c.address}:${c.port} was reset before SSH was set up`,
        hint: 'sshd may be refusing this client (MaxStartups, tcp wrappers, fail2ban) or still starting; try again',
      })
  }
  if (err?.level === 'client-timeout' || /timed out/i.test(msg))
    return new DrError({
      ...base,
      code: 'ssh.timeout',
      message: `${c.host}: no SSH handshake with ${c.address}:${c.port} within the connect timeout`,
      hint: 'the host is down, overloaded, or a firewall drops the traffic; raise ssh.connectTimeoutMs if the network is slow',
    })
  return new DrError({
    ...base,
    code: 'ssh.connect-failed',
    message: `${c.host}: cannot connect to ${where(c)}: ${msg}`,
    hint: `try \`ssh -p ${c.port} ${c.user}@${c.address} true\` from this machine to see what OpenSSH says`,
  })
}
