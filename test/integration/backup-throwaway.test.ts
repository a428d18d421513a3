// A backup is verified by restoring it into a throwaway etcd on ports picked free. Another process can take such a
// port before etcd listens (CI: three labs' SSH tunnels at once): that must start etcd again on new ports, and if it
// keeps happening, say so, never "this backup cannot be restored".
import t from 'tap'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { Etcd3 } from 'etcd3'
import { startEtcd, type EtcdCluster } from '../helpers/etcd.ts'
import { restoreThrowaway } from '../../src/backup/throwaway-etcd.ts'
import { freeLoopbackPorts } from '../../src/transport/local.ts'
import { isDrError } from '../../src/core/error.ts'

t.setTimeout(120_000)
let etcd: EtcdCluster
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-throwaway-'))
const snapshot = path.join(scratch, 'snap.db')
let taken: net.Server
let takenPort: number
const held: net.Socket[] = []

t.before(async () => {
  etcd = await startEtcd({ members: 1 })
  const client = new Etcd3({ hosts: etcd.endpoints[0] })
  for (let i = 0; i < 20; i++) await client.put(`/registry/k${i}`).value(`v${i}`)
  client.close()
  execFileSync('etcdctl', [...etcd.etcdctlArgs(), 'snapshot', 'save', snapshot], { env: etcd.env(), stdio: 'pipe' })
  // It accepts and then says nothing, as a port taken by another program may: dr must not wait on it.
  taken = net.createServer((sock) => held.push(sock))
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()))
  takenPort = (taken.address() as net.AddressInfo).port
})
t.teardown(async () => {
  for (const s of held) s.destroy()
  taken?.close()
  await etcd?.stop()
  fs.rmSync(scratch, { recursive: true, force: true })
})

t.test('a port taken before etcd listens: started again on new ports, and the backup read', async (t) => {
  const asked: number[][] = []
  const view = await restoreThrowaway(snapshot, scratch, {
    async pickPorts(n) {
      const free = await freeLoopbackPorts(n)
      const ports = asked.length === 0 ? [takenPort, free[1]] : free // the client port is taken the first time
      asked.push(ports)
      return ports
    },
  })
  t.equal(asked.length, 2, 'a second start, on other ports')
  t.not(asked[1][0], takenPort)
  t.equal(view.keyCount, 20, 'the restored etcd holds the 20 keys')
  t.ok(view.revision >= 21, `revision ${view.revision}`)
  t.notOk(fs.existsSync(path.join(scratch, 'verify.etcd')), 'the scratch data dir is removed')
})

t.test('a port taken every time: named as ports, not as a backup that cannot be restored', async (t) => {
  let asked = 0
  const e = await restoreThrowaway(snapshot, scratch, {
    async pickPorts(n) {
      asked++
      const free = await freeLoopbackPorts(n)
      return [free[0], takenPort] // the peer port this time
    },
  }).catch((e: unknown) => e)
  t.ok(isDrError(e), String(e))
  if (!isDrError(e)) return
  t.equal(e.code, 'backup.verify-ports')
  t.match(e.message, new RegExp(`127\\.0\\.0\\.1:${takenPort}: bind: address already in use`), 'the port and etcd\'s words')
  t.notMatch(e.hint ?? '', /cannot be restored/)
  t.equal(asked, 3, 'three starts')
})

t.test('the throwaway etcd killed by a signal: named as such, at once, not waited on', async (t) => {
  let killer: NodeJS.Timeout | undefined
  const started = Date.now()
  const e = await restoreThrowaway(snapshot, scratch, {
    async pickPorts(n) {
      const ports = await freeLoopbackPorts(n)
      // Kill the etcd as soon as it appears (only ours: its client URL is on a port just picked).
      killer = setInterval(() => {
        try {
          execFileSync('pkill', ['-KILL', '-f', `listen-client-urls=http://127.0.0.1:${ports[0]}`], { stdio: 'ignore' })
          clearInterval(killer)
        } catch {}
      }, 5)
      return ports
    },
  }).catch((e: unknown) => e)
  clearInterval(killer)
  t.ok(isDrError(e), String(e))
  if (!isDrError(e)) return
  t.equal(e.code, 'backup.restore-failed')
  t.match(e.message, /exited on SIGKILL/)
  t.ok(Date.now() - started < 15_000, `within ${Date.now() - started} ms, not the 30 s of an etcd that does not answer`)
})

t.test('ports picked together are distinct', async (t) => {
  for (let i = 0; i < 20; i++) {
    const p = await freeLoopbackPorts(4)
    t.equal(new Set(p).size, 4)
  }
})
