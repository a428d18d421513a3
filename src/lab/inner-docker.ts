// The docker engine inside a node, reached with `docker exec <node> docker …` (and curl on the node's socket for
// the Engine API calls the CLI cannot express).
import { DrError } from '../core/error.ts'
import { dockerExec } from './docker.ts'
import type { CreateBody } from './controlplane.ts'
import type { LabNode } from './topology.ts'

/** Inner container name → state ("running", "exited", "restarting" …). */
export async function innerContainers(node: LabNode): Promise<Map<string, string>> {
  const r = await dockerExec(node.container, ['docker', 'ps', '-a', '--format', '{{.Names}}\t{{.State}}'], { nothrow: true, timeoutMs: 15_000 })
  const m = new Map<string, string>()
  if (!r.ok) return m
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const [name, state] = line.split('\t')
    m.set(name, state)
  }
  return m
}

/** `docker run …` inside the node (argv after `docker`). */
export async function innerRun(node: LabNode, args: string[], doing: string): Promise<void> {
  await dockerExec(node.container, ['docker', ...args], { doing, timeoutMs: 120_000 })
}

async function engineApi(node: LabNode, method: string, path: string, body: unknown, doing: string): Promise<string> {
  const argv = ['curl', '-sS', '--fail-with-body', '--unix-socket', '/var/run/docker.sock', '-X', method]
  if (body !== undefined) argv.push('-H', 'Content-Type: application/json', '--data-binary', '@-')
  argv.push(`http://localhost/v1.41${path}`)
  const r = await dockerExec(node.container, argv, { input: body === undefined ? undefined : JSON.stringify(body), nothrow: true, timeoutMs: 60_000 })
  if (!r.ok) {
    throw new DrError({ code: 'lab.engine-api-failed', message: `${method} ${path} on ${node.name}'s docker failed`, host: node.name, doing, stderr: (r.stdout + r.stderr).trim() })
  }
  return r.stdout
}

/** Create and start a container from exact Engine API arrays (entrypoint with the whole command, no cmd). */
export async function innerCreateAndStart(node: LabNode, name: string, body: CreateBody): Promise<void> {
  await engineApi(node, 'POST', `/containers/create?name=${encodeURIComponent(name)}`, body, `create ${name} on ${node.name}`)
  await engineApi(node, 'POST', `/containers/${encodeURIComponent(name)}/start`, undefined, `start ${name} on ${node.name}`)
}

/** `etcdctl endpoint health` in the node's etcd container (its env points at https://127.0.0.1:2379). */
export async function etcdHealthy(node: LabNode): Promise<boolean> {
  const r = await dockerExec(node.container, ['docker', 'exec', 'etcd', 'etcdctl', '--command-timeout=3s', 'endpoint', 'health'], { nothrow: true, timeoutMs: 10_000 })
  return r.ok && /is healthy/.test(r.stdout + r.stderr)
}
