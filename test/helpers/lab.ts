// The lab, driven through `dr lab …` as a user would, plus a look from outside dr: `docker exec` into a node
// and its inner containers (etcdctl inside the etcd container, as an operator on the host would run it).
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { dr, type DrRun } from './dr.ts'

const run = promisify(execFile)

async function must(p: Promise<DrRun>, what: string): Promise<DrRun> {
  const r = await p
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.stderr.slice(-3000)}\n${r.stdout.slice(-2000)}`)
  return r
}

export const labUp = () => must(dr(['lab', 'up'], { timeoutMs: 900_000 }), 'dr lab up')
export const labDown = () => must(dr(['lab', 'down']), 'dr lab down')
export async function freshLab() {
  await labDown()
  await labUp()
}

/** A shell command inside a lab node (the node container, not over dr's SSH). */
export async function nodeSh(node: string, script: string, timeoutMs = 60_000): Promise<string> {
  const { stdout } = await run('docker', ['exec', `dr-lab-${node}`, 'sh', '-c', script], { timeout: timeoutMs, maxBuffer: 64 << 20 })
  return stdout
}

/** etcdctl inside the node's etcd container, with RKE's ETCDCTL_* environment. */
export async function etcdctl(node: string, args: string[], container = 'etcd'): Promise<string> {
  const { stdout } = await run('docker', ['exec', `dr-lab-${node}`, 'docker', 'exec', container, 'etcdctl', ...args], { timeout: 60_000, maxBuffer: 64 << 20 })
  return stdout
}

export async function containerIds(node: string): Promise<string> {
  return nodeSh(node, "docker ps -a --no-trunc --format '{{.Names}} {{.ID}} {{.State}}' | sort")
}
