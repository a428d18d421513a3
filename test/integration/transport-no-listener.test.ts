// Issue 9.1: the docker Engine API is reached with no local listener (each connection is a
// `docker system dial-stdio`), over the local transport and over SSH under `sudo -n`; the TCP tunnels that remain
// carry TLS with client certificates end to end, so a local user who finds their port gets nothing without one.
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import tls from 'node:tls'
import { Engine } from '../../src/container/engine.ts'
import { LocalTransport } from '../../src/transport/local.ts'
import { SshTransport } from '../../src/transport/ssh.ts'
import { SSH_DEFAULTS } from '../../src/inventory/defaults.ts'
import { startSshd, type Sshd } from '../helpers/sshd.ts'
import { startEtcd, type EtcdCluster } from '../helpers/etcd.ts'

t.setTimeout(180_000)

/** TCP ports this process listens on: its socket inodes (/proc/self/fd) in LISTEN state (0A) in /proc/net/tcp*. */
function listeningPorts(): number[] {
  const inodes = new Set<string>()
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let link = ''
    try {
      link = fs.readlinkSync(`/proc/self/fd/${fd}`, { encoding: 'utf8' }) as string
    } catch {
      continue // the directory listing's own descriptor, closed by now
    }
    const m = /^socket:\[(\d+)\]$/.exec(link)
    if (m) inodes.add(m[1])
  }
  const ports: number[] = []
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f.length > 9 && f[3] === '0A' && inodes.has(f[9])) ports.push(parseInt(f[1].split(':')[1], 16))
    }
  }
  return ports
}

let sshd: Sshd
let etcd: EtcdCluster
let shimDir: string
let sudoLog: string
t.before(async () => {
  shimDir = fs.mkdtempSync('/tmp/dr-sudo-shim-')
  sudoLog = path.join(shimDir, 'calls.log')
  fs.writeFileSync(path.join(shimDir, 'sudo'), `#!/bin/sh\necho "$*" >> ${sudoLog}\n[ "$1" = -n ] || exit 1\nshift\n[ "$1" = -- ] && shift\nexec "$@"\n`, { mode: 0o755 })
  sshd = await startSshd({ config: [`SetEnv PATH=${shimDir}:/usr/local/bin:/usr/bin:/bin`] })
  fs.writeFileSync(path.join(sshd.dir, 'known_hosts'), sshd.knownHostsLine + '\n')
  etcd = await startEtcd({ tls: true })
})
t.teardown(async () => {
  await etcd?.stop()
  await sshd?.stop()
  fs.rmSync(shimDir, { recursive: true, force: true })
})

const connect = (sudo: boolean) =>
  SshTransport.connect({
    name: 'h1',
    address: '127.0.0.1',
    hostKeys: [],
    ssh: { ...SSH_DEFAULTS, port: sshd.port, identityFile: sshd.userKeyPath, knownHosts: path.join(sshd.dir, 'known_hosts'), sudo },
  })

t.test('the detector sees a listener: a TCP tunnel is one', async (t) => {
  const h = await connect(false)
  const before = listeningPorts()
  const tunnel = await h.forward('127.0.0.1', 9)
  t.ok(listeningPorts().includes(tunnel.localPort), `the tunnel listens on ${tunnel.localPort}`)
  await tunnel.close()
  t.same(listeningPorts(), before)
  await h.close()
})

t.test('the Engine API has no listener: local transport, and SSH under sudo -n', async (t) => {
  for (const [what, open] of [
    ['local', async () => new LocalTransport()],
    ['ssh + sudo', () => connect(true)],
  ] as const) {
    const tr = await open()
    const before = listeningPorts()
    const engine = await Engine.open(tr)
    const info = await engine.info()
    t.ok(info.ServerVersion, `${what}: the engine answered (docker ${info.ServerVersion})`)
    t.same(listeningPorts(), before, `${what}: no listening socket while the Engine is open`)
    await engine.close()
    await tr.close()
  }
  t.match(fs.readFileSync(sudoLog, 'utf8'), /^-n -- docker system dial-stdio$/m, 'over SSH it ran docker system dial-stdio under sudo -n')
})

t.test('a dial-stdio that cannot start is a clear error, not a hang', async (t) => {
  const h = await connect(false)
  const bad = Engine.open(h, '/nonexistent/docker.sock')
  await t.rejects(bad, { code: 'docker.api-unreachable', host: 'h1', message: /did not answer/ })
  await h.close()
})

t.test('the etcd tunnel carries TLS with client certificates: a local client without one is refused', async (t) => {
  const h = await connect(false)
  const port = Number(new URL(etcd.endpoints[0]).port)
  const tunnel = await h.forward('127.0.0.1', port)
  const attempt = (withCert: boolean) =>
    new Promise<string>((resolve) => {
      const s = tls.connect({
        host: '127.0.0.1',
        port: tunnel.localPort,
        servername: 'localhost',
        ca: etcd.tls!.credentials.rootCertificate,
        ...(withCert ? { cert: etcd.tls!.credentials.certChain, key: etcd.tls!.credentials.privateKey } : {}),
        ALPNProtocols: ['http/1.1'],
      })
      s.on('secureConnect', () => s.write('GET /version HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'))
      let body = ''
      s.on('data', (d) => (body += d))
      s.on('end', () => resolve(body))
      s.on('error', (e) => resolve(`error: ${e.message}`))
    })
  const withCert = await attempt(true)
  t.match(withCert, /etcdserver/, `with the client certificate etcd answers through the tunnel: ${withCert.slice(0, 200)}`)
  t.notMatch(await attempt(false), /etcdserver/, 'without a certificate: nothing')
  await tunnel.close()
  await h.close()
})
