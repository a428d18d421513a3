// Connections over a loaded inventory and real sshd servers: a jump host, reuse, the concurrency limit, per-host
// failures as data; and the "Too many authentication failures" of seed 004 (an agent offering too many keys).
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { freePort, startSshd, type Sshd } from '../helpers/sshd.ts'
import { loadInventory } from '../../src/inventory/load.ts'
import { Connections, parseJumpSpec } from '../../src/transport/connect.ts'
import { SshTransport } from '../../src/transport/ssh.ts'
import { SSH_DEFAULTS } from '../../src/inventory/defaults.ts'
import type { Inventory } from '../../src/inventory/types.ts'

// Real processes on a busy machine: more than tap's default 30 s per file.
t.setTimeout(240_000)

let bastion: Sshd
let nodes: Sshd
let ports: number[]
let dead: number
let dead2: number
let dir: string
let inv: Inventory

t.before(async () => {
  ports = [await freePort(), await freePort(), await freePort()]
  dead = await freePort()
  dead2 = await freePort()
  ;[bastion, nodes] = await Promise.all([
    startSshd({ config: ['LogLevel DEBUG1'] }),
    startSshd({ config: ports.map((p) => `Port ${p}`) }),
  ])
  nodes.authorize(fs.readFileSync(bastion.userKeyPath + '.pub', 'utf8'))
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-inv-'))
  fs.mkdirSync(path.join(dir, 'lab'))
  fs.copyFileSync(bastion.userKeyPath, path.join(dir, 'lab', 'id_ed25519'))
  fs.chmodSync(path.join(dir, 'lab', 'id_ed25519'), 0o600)
  const keyOf = (line: string) => line.split(' ').slice(1).join(' ')
  fs.writeFileSync(
    path.join(dir, 'lab', 'known_hosts'),
    [bastion.knownHostsLine, ...[nodes.port, ...ports].map((p) => `[127.0.0.1]:${p} ${keyOf(nodes.knownHostsLine)}`)].join('\n') + '\n',
  )
  fs.writeFileSync(
    path.join(dir, 'inv.yaml'),
    `cluster: itest
flavor: rke
ssh:
  identityFile: lab/id_ed25519
  knownHosts: lab/known_hosts
  concurrency: 2
  connectTimeoutMs: 3000
sites:
  A: { hosts: [bastion, n1, n2] }
  B: { hosts: [n3, n4, gone, hidden] }
hosts:
  bastion: { address: 127.0.0.1, roles: [worker], ssh: { port: ${bastion.port} } }
  n1: { address: 127.0.0.1, roles: [etcd], ssh: { port: ${nodes.port}, jumpHost: bastion } }
  n2: { address: 127.0.0.1, roles: [etcd], ssh: { port: ${ports[0]} } }
  n3: { address: 127.0.0.1, roles: [etcd], ssh: { port: ${ports[1]} } }
  n4: { address: 127.0.0.1, roles: [worker], ssh: { port: ${ports[2]}, jumpHost: "root@127.0.0.1:${bastion.port}" } }
  gone: { address: 127.0.0.1, roles: [worker], ssh: { port: ${dead} } }
  hidden: { address: 127.0.0.1, roles: [worker], ssh: { port: ${dead2}, jumpHost: bastion } }
`,
  )
  inv = await loadInventory(path.join(dir, 'inv.yaml'))
})
t.teardown(async () => {
  await Promise.all([bastion.stop(), nodes.stop()])
  fs.rmSync(dir, { recursive: true, force: true })
})

t.test('the inventory loader resolved the paths the transports use', async (t) => {
  t.equal(inv.hosts.n1.ssh.identityFile, path.join(dir, 'lab', 'id_ed25519'))
  t.equal(inv.hosts.n1.ssh.jumpHost, 'bastion')
  t.equal(inv.hosts.n2.ssh.concurrency, 2)
})

t.test('a host behind a jump host (an inventory host, or user@address:port)', async (t) => {
  const conns = new Connections(inv)
  t.teardown(() => conns.close())
  const n1 = await conns.get('n1')
  t.equal(n1.host, 'n1')
  t.equal(await n1.$`echo via jump`.text(), 'via jump')
  t.match(bastion.log(), new RegExp(`server_request_direct_tcpip: originator .*, target 127\\.0\\.0\\.1 port ${nodes.port}\\b`), 'the bastion opened the forward to the target')
  const bastionT = await conns.get('bastion')
  t.equal(bastionT, await conns.get('bastion'), 'the jump connection is reused as the bastion host')

  const n4 = await conns.get('n4')
  t.equal(await n4.$`echo via address`.text(), 'via address')
  t.match(bastion.log(), new RegExp(`server_request_direct_tcpip: originator .*, target 127\\.0\\.0\\.1 port ${ports[2]}\\b`))
  await t.rejects(conns.get('hidden'), {
    code: 'ssh.connection-refused',
    host: 'hidden',
    message: `hidden: cannot reach 127.0.0.1:${dead2} through the jump host bastion — nothing listens there`,
  })
  t.same(parseJumpSpec('ops@10.0.0.1:2222'), { user: 'ops', address: '10.0.0.1', port: 2222 })
  t.same(parseJumpSpec('bastion.example'), { user: undefined, address: 'bastion.example', port: undefined })
})

t.test('map: reuse, at most ssh.concurrency at once, failures as data', async (t) => {
  const conns = new Connections(inv)
  t.teardown(() => conns.close())
  const first = await conns.get('n2')
  t.equal(await conns.get('n2'), first, 'one transport per host')

  let inFlight = 0
  let most = 0
  const started = Date.now()
  const results = await conns.map(['n1', 'n2', 'n3', 'n4', 'gone', 'bastion'], async (tr, host) => {
    inFlight++
    most = Math.max(most, inFlight)
    try {
      return `${host.name}:${await tr.$`sleep 0.3; echo up`.text()}`
    } finally {
      inFlight--
    }
  })
  t.ok(most <= 2, `at most 2 at once (saw ${most})`)
  t.same(results.map((r) => r.host), ['n1', 'n2', 'n3', 'n4', 'gone', 'bastion'], 'results keep the order asked for')
  t.same(results.filter((r) => r.value).map((r) => r.value), ['n1:up', 'n2:up', 'n3:up', 'n4:up', 'bastion:up'])
  const gone = results.find((r) => r.host === 'gone')!
  t.match(gone.error, { code: 'ssh.connection-refused', host: 'gone', hint: /sshd is not running/ })
  t.notOk(gone.value)
  t.ok(Date.now() - started >= 600, 'five 0.3 s commands two at a time take at least 0.6 s')

  const unknown = await conns.map(['n2', 'nope'], async () => 1)
  t.match(unknown[1].error, { code: 'inventory.unknown-host' })
  await t.rejects(conns.get('nope'), { code: 'inventory.unknown-host' })
  const thrown = await conns.map(['n3'], async (tr) => tr.$`exit 9`)
  t.match(thrown[0].error, { code: 'command.failed', exitStatus: 9, host: 'n3' }, 'a failed command is a per-host error')

  await conns.close()
  t.ok((first as SshTransport).isClosed, 'close() closes every connection')
})

t.test('seed 004: "Too many authentication failures" from an agent with many keys', async (t) => {
  const strict = await startSshd({ config: ['MaxAuthTries 2'] })
  const sock = path.join(strict.dir, 'agent.sock')
  const agent: ChildProcess = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' })
  t.teardown(async () => {
    agent.kill()
    await strict.stop()
  })
  for (let i = 0; i < 50 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50))
  const env = { ...process.env, SSH_AUTH_SOCK: sock }
  for (const k of ['old1', 'old2', 'old3']) execFileSync('ssh-add', [strict.newUserKey(k)], { env, stdio: 'ignore' })
  execFileSync('ssh-add', [strict.userKeyPath], { env, stdio: 'ignore' }) // the right key comes last, as in the seed
  const kh = path.join(strict.dir, 'known_hosts')
  fs.writeFileSync(kh, strict.knownHostsLine + '\n')
  const saved = process.env.SSH_AUTH_SOCK
  process.env.SSH_AUTH_SOCK = sock
  t.teardown(() => {
    if (saved === undefined) delete process.env.SSH_AUTH_SOCK
    else process.env.SSH_AUTH_SOCK = saved
  })
  const base = { name: 'konvoy1', address: '127.0.0.1', hostKeys: [], ssh: { ...SSH_DEFAULTS, port: strict.port, knownHosts: kh } }
  const e = await SshTransport.connect({ ...base, ssh: { ...base.ssh, agent: true } }).catch((e) => e)
  t.match(e, { code: 'ssh.too-many-auth-failures', host: 'konvoy1' })
  t.match(e.message, /Too many authentication failures/)
  t.match(e.hint, /ssh-add -l/)
  t.match(e.hint, /identityFile/)
  for (let i = 0; i < 40 && !/Too many authentication failures/.test(strict.log()); i++) await new Promise((r) => setTimeout(r, 50))
  t.match(strict.log(), /Too many authentication failures/, 'sshd really disconnected for that reason')

  // The fix the hint gives: one identity file, no agent.
  const fixed = await SshTransport.connect({ ...base, ssh: { ...base.ssh, agent: false, identityFile: strict.userKeyPath } })
  t.equal(await fixed.$`echo fixed`.text(), 'fixed')
  await fixed.close()
})
