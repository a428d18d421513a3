// Open an ssh2 connection to one host: host key verified (host-key.ts), a key file, its passphrase, or the agent
// (never forwarded), through a jump host's forwarded stream when there is one. Failures become plain DrErrors.
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { Client, type ConnectConfig } from 'ssh2'
import { DrError } from '../core/error.ts'
import type { SshSettings } from '../inventory/types.ts'
import { defaultKnownHosts, readKnownHosts, verifyHostKey } from './host-key.ts'
import { hostToken, preferredHostKeyAlgorithms } from './known-hosts.ts'
import { passphraseFor } from './passphrase.ts'
import { sshConnectError, type SshContext } from './ssh-errors.ts'

/** What an SSH connection needs of a host; an inventory Host fits. */
export interface SshTarget {
  name: string
  address: string
  ssh: SshSettings
  hostKeys: string[]
}

/** A jump host: its name (for messages) and a way to open a stream to address:port from it. */
export interface Via {
  host: string
  open(address: string, port: number): Promise<NodeJS.ReadWriteStream>
}

// The same key for every host of a fan-out: read once (synchronously: a small file, see host-key.ts).
const keys = new Map<string, Buffer>()
const readKey = (file: string): Buffer => keys.get(file) ?? keys.set(file, fs.readFileSync(file)).get(file)!

/** OpenSSH's default identities, used when the inventory names no key and no agent. */
async function defaultIdentity(): Promise<string | undefined> {
  for (const f of ['id_ed25519', 'id_ecdsa', 'id_rsa']) {
    const p = path.join(os.homedir(), '.ssh', f)
    // The first that exists; a missing one is simply not a default identity.
    if (await fsp.access(p).then(() => true, () => false)) return p
  }
  return undefined
}

export async function openClient(target: SshTarget, via?: Via): Promise<{ client: Client; ctx: SshContext }> {
  const s0 = target.ssh
  const s = !s0.identityFile && !s0.agent ? { ...s0, identityFile: await defaultIdentity() } : s0
    const ctx: SshContext = {
      host: target.name,
      address: target.address,
      port: s.port,
      user: s.user,
      identityFile: s.identityFile,
      agent: s.agent,
      via: via?.host,
    }
    const knownHosts = s.knownHosts ?? defaultKnownHosts()
    const token = hostToken(target.address, s.port)
    const cfg: ConnectConfig = {
      host: target.address,
      port: s.port,
      username: s.user,
      readyTimeout: s.connectTimeoutMs,
      keepaliveInterval: 10_000,
      keepaliveCountMax: 3,
      agentForward: false,
      algorithms: {
        serverHostKey: target.hostKeys.length
          ? undefined
          : (preferredHostKeyAlgorithms(await readKnownHosts(knownHosts), token) as never),
      },
    }
    if (s.identityFile) {
      try {
        cfg.privateKey = readKey(s.identityFile)
      } catch (e) {
        throw new DrError({
          code: 'ssh.key-unreadable',
          host: target.name,
          message: `${target.name}: cannot read the SSH key ${s.identityFile}: ${(e as Error).message}`,
          hint: 'check ssh.identityFile in the inventory (relative paths are relative to the inventory file)',
          exit: 'usage',
          cause: e,
        })
      }
      const pass = await passphraseFor(s.identityFile, cfg.privateKey as Buffer, s.passphraseEnv)
      if (pass) cfg.passphrase = pass
    }
    if (s.agent) {
      if (!process.env.SSH_AUTH_SOCK)
        throw new DrError({
          code: 'ssh.no-agent',
          host: target.name,
          message: `${target.name}: ssh.agent is true but SSH_AUTH_SOCK is not set`,
          hint: 'start an agent (`eval $(ssh-agent); ssh-add KEY`) or set ssh.identityFile and ssh.agent: false',
          exit: 'usage',
        })
      cfg.agent = process.env.SSH_AUTH_SOCK
    }
    if (via) {
    try {
      cfg.sock = (await via.open(target.address, s.port)) as never
    } catch (e) {
      const refused = e instanceof DrError && e.code === 'ssh.forward-refused'
      throw new DrError({
        code: refused ? 'ssh.connection-refused' : 'ssh.connect-failed',
        host: target.name,
        doing: `connect to ${s.user}@${target.address}:${s.port} through ${via.host}`,
        message: `${target.name}: cannot reach ${target.address}:${s.port} through the jump host ${via.host}${refused ? ' — nothing listens there' : ''}`,
        hint: refused ? `sshd is not running on ${target.address}, or the port is wrong (ssh.port is ${s.port})` : (e as DrError).hint,
        stderr: (e as Error).message,
        cause: e,
      })
    }
  }

    let refusal: DrError | undefined
    cfg.hostVerifier = ((key: Buffer, verify: (ok: boolean) => void) => {
      verifyHostKey(
        { host: target.name, address: target.address, port: s.port, hostKeys: target.hostKeys, knownHosts: s.knownHosts, acceptNewHostKeys: s.acceptNewHostKeys },
        key,
      ).then(
        () => verify(true),
        (e) => {
          refusal = e instanceof DrError ? e : sshConnectError(e, ctx)
          verify(false)
        },
      )
    }) as ConnectConfig['hostVerifier']

    const client = new Client()
    await new Promise<void>((resolve, reject) => {
      let settled = false
      const fail = (e: unknown) => {
        if (settled) return
        settled = true
        client.end()
        reject(refusal ?? sshConnectError(e, ctx))
      }
      client.once('ready', () => {
        settled = true
        // SFTP and tunnels wait on each reply; with Nagle's algorithm on, every reply waits for a delayed ACK
        // (a loopback SFTP upload ran at ~2 MB/s instead of ~60 MB/s).
        client.setNoDelay(true)
        coalesceWrites((client as unknown as { _sock?: unknown })._sock)
        resolve()
      })
      client.on('error', fail)
      client.once('close', () => fail(new Error('the connection closed during the SSH handshake')))
      try {
        client.connect(cfg)
      } catch (e) {
        fail(e)
      }
    })
    return { client, ctx }
}

/**
 * One socket write per tick instead of one per piece: ssh2 writes each AES-GCM packet as three pieces (length,
 * body, tag), and with Nagle off each piece was a syscall and a TCP segment of its own (4 and 16 bytes among
 * 32 KiB ones). Corked until the end of the tick, they leave together in one writev. ssh2 keeps its socket in a
 * private field: a connection through a jump host (a channel, not a socket) is left as it is.
 */
export function coalesceWrites(sock: unknown): void {
  if (!(sock instanceof net.Socket)) return
  const write = sock.write
  let corked = false
  sock.write = function (this: net.Socket, ...args: Parameters<net.Socket['write']>) {
    if (!corked) {
      corked = true
      this.cork()
      process.nextTick(() => {
        corked = false
        this.uncork()
      })
    }
    return write.apply(this, args as never)
  } as net.Socket['write']
}
