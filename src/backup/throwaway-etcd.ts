// Prove a snapshot restorable: `etcdctl snapshot restore` it into a scratch data dir, start a one-member etcd on
// loopback on free ports, read its revision and key count, stop it, delete everything.
import { execFile, spawn } from 'node:child_process'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { Etcd3 } from 'etcd3'
import { DrError } from '../core/error.ts'
import { freeLoopbackPorts } from '../transport/local.ts'

const run = promisify(execFile)


export interface SnapshotStatus {
  hash: number
  revision: number
  totalKey: number
  totalSize: number
}

/** `etcdutl snapshot status` (etcd ≥ 3.5) or `etcdctl snapshot status` (3.4): the snapshot's own view of itself. */
export async function snapshotStatus(file: string): Promise<SnapshotStatus> {
  const tools: [string, string[]][] = [
    ['etcdutl', ['snapshot', 'status', '-w', 'json', file]],
    ['etcdctl', ['snapshot', 'status', '-w', 'json', file]],
  ]
  let last: unknown
  for (const [bin, args] of tools) {
    try {
      const { stdout } = await run(bin, args, { env: { ...process.env, ETCDCTL_API: '3' }, maxBuffer: 1 << 20 })
      return JSON.parse(stdout) as SnapshotStatus
    } catch (e) {
      last = e
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue
      break
    }
  }
  const err = last as { stderr?: string; message?: string; code?: string }
  throw new DrError({
    code: err.code === 'ENOENT' ? 'backup.no-etcdctl' : 'backup.snapshot-unreadable',
    message: err.code === 'ENOENT' ? 'neither etcdutl nor etcdctl is installed on this machine' : `the snapshot is not a readable etcd database: ${(err.stderr || err.message || '').trim().split('\n').pop()}`,
    hint: err.code === 'ENOENT' ? 'install etcd-client (etcdctl) to verify backups' : 'this backup cannot be restored; use an older one',
    exit: err.code === 'ENOENT' ? 'usage' : 'failed',
  })
}

export interface RestoredView {
  revision: number
  keyCount: number
  durationMs: number
}

/** How often a throwaway etcd is started afresh when a port picked for it was taken before it could listen. */
const START_ATTEMPTS = 3
const PORT_TAKEN = /bind: address already in use/

/** The throwaway etcd could not listen on a port picked for it: another process took the port in between. */
class PortTaken extends Error {}

/**
 * Restore `file` into a scratch etcd under `scratchDir` (removed afterwards) and read what it holds. Its ports are
 * picked free, but another process may take one before etcd listens: that is started again on new ports (from a
 * fresh restore), and never reported as a backup that cannot be restored.
 */
export async function restoreThrowaway(
  file: string,
  scratchDir: string,
  opts: { pickPorts?: (n: number) => Promise<number[]> } = {},
): Promise<RestoredView> {
  const started = Date.now()
  for (let attempt = 1; ; attempt++) {
    try {
      return { ...(await restoreOnce(file, scratchDir, opts.pickPorts ?? freeLoopbackPorts)), durationMs: Date.now() - started }
    } catch (e) {
      if (!(e instanceof PortTaken)) throw e
      if (attempt < START_ATTEMPTS) continue
      throw new DrError({
        code: 'backup.verify-ports',
        message: `the throwaway etcd could not listen on 127.0.0.1 in ${START_ATTEMPTS} attempts, new ports each time: ${e.message}`,
        doing: 'start a throwaway etcd to read the restored snapshot',
        hint: 'something on this machine takes loopback ports as fast as they are freed; the backup itself was not judged: run the verify again (`dr backup verify <id>`)',
      })
    }
  }
}

async function restoreOnce(file: string, scratchDir: string, pickPorts: (n: number) => Promise<number[]>): Promise<Omit<RestoredView, 'durationMs'>> {
  const dataDir = path.join(scratchDir, 'verify.etcd')
  const [clientPort, peerPort] = await pickPorts(2)
  const peer = `http://127.0.0.1:${peerPort}`
  const clientUrl = `http://127.0.0.1:${clientPort}`
  try {
    await run(
      'etcdctl',
      ['snapshot', 'restore', file, `--data-dir=${dataDir}`, '--name=verify', `--initial-cluster=verify=${peer}`, `--initial-advertise-peer-urls=${peer}`, '--initial-cluster-token=dr-verify'],
      { env: { ...process.env, ETCDCTL_API: '3' } },
    )
  } catch (e) {
    throw new DrError({
      code: 'backup.restore-failed',
      message: `etcdctl snapshot restore refused the snapshot: ${String((e as { stderr?: string }).stderr ?? e).trim().split('\n').pop()}`,
      doing: 'restore the snapshot into a throwaway etcd',
      hint: 'this backup cannot be restored; use an older one',
    })
  }
  const log = path.join(scratchDir, 'verify-etcd.log')
  const fd = fs.openSync(log, 'w')
  const proc = spawn(
    'etcd',
    ['--name=verify', `--data-dir=${dataDir}`, `--listen-client-urls=${clientUrl}`, `--advertise-client-urls=${clientUrl}`, `--listen-peer-urls=${peer}`, `--initial-advertise-peer-urls=${peer}`, `--initial-cluster=verify=${peer}`],
    { stdio: ['ignore', fd, fd] },
  )
  fs.closeSync(fd)
  const exited = new Promise<void>((r) => proc.once('exit', () => r()))
  const client = new Etcd3({ hosts: clientUrl, dialTimeout: 2000 })
  try {
    const deadline = Date.now() + 30_000
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        const tail = (await fsp.readFile(log, 'utf8')).trim().split('\n').slice(-3).join('\n')
        if (PORT_TAKEN.test(tail)) throw new PortTaken(tail.split('\n').find((l) => PORT_TAKEN.test(l))!.trim())
        throw new DrError({ code: 'backup.restore-failed', message: `the throwaway etcd exited${proc.signalCode ? ` on ${proc.signalCode}` : ''}: ${tail}`, hint: 'this backup cannot be restored; use an older one' })
      }
      // Each probe is bounded and gives way to etcd's exit: a call to a port that another process took (and
      // accepts on without speaking gRPC) would otherwise wait forever.
      const probe = (async () => {
        const count = await client.getAll().count()
        const status = await client.maintenance.status()
        return { revision: Number(status.header.revision), keyCount: count }
      })()
      probe.catch(() => undefined)
      let timer: NodeJS.Timeout | undefined
      const gaveUp = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no answer within 2 s')), 2000)))
      try {
        const got = await Promise.race([probe, gaveUp, exited.then(() => undefined)])
        if (got) return got
        // etcd exited: named at the top of the loop.
      } catch (e) {
        if (Date.now() > deadline) throw new DrError({ code: 'backup.restore-failed', message: `the throwaway etcd did not answer within 30 s: ${(e as Error).message}` })
        await new Promise((r) => setTimeout(r, 200))
      } finally {
        clearTimeout(timer)
      }
    }
  } finally {
    client.close()
    proc.kill('SIGTERM')
    const t = setTimeout(() => proc.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(t)
    await fsp.rm(dataDir, { recursive: true, force: true })
  }
}
