// `dr diagnose`: a diagnostic bundle like `konvoy diagnose` (seed 004). Per host: docker ps -a, inspect and the
// last log lines of the control-plane containers, the kubelet's log, dmesg, iptables-save, df, free, time; for
// the cluster: etcd status and members, Nodes, pods and events. Everything passes through redact.ts before it is
// written; manifest.json lists every item, what it is, its size, how many values were redacted, and what failed.
import fsp from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { DrError } from '../core/error.ts'
import type { Output } from '../core/output.ts'
import type { Inventory } from '../inventory/types.ts'
import { hostsWithRole } from '../inventory/types.ts'
import type { Connections } from '../transport/connect.ts'
import { runLocal } from '../transport/local.ts'
import { quote } from '../transport/shell.ts'
import { probeCluster } from '../etcd/status.ts'
import { connectKube, type KubeConnection } from '../kube/client.ts'
import { redactJson, redactText } from './redact.ts'

export interface ManifestItem {
  path: string
  host?: string
  what: string
  ok: boolean
  bytes: number
  redacted: number
  error?: string
}

export interface Manifest {
  cluster: string
  createdAt: string
  hosts: string[]
  items: ManifestItem[]
}

/** Names of the control-plane containers worth inspecting and reading logs of (RKE and kubelet-made). */
export const CONTROL_PLANE = /^(etcd|kube-apiserver|kubelet|kube-proxy|kube-controller-manager|kube-scheduler|nginx-proxy)$|^k8s_(etcd|kube-apiserver|kube-controller-manager|kube-scheduler|POD_(etcd|kube-apiserver))_/

const HOST_COMMANDS: Array<[string, string, string]> = [
  ['docker-ps-a.txt', 'docker ps -a', 'docker ps -a --no-trunc'],
  ['kubelet.log', 'the kubelet log (journal or container)', 'journalctl -u kubelet -n 500 --no-pager 2>/dev/null || docker logs --tail 500 kubelet 2>&1'],
  ['dmesg.txt', 'dmesg', 'dmesg -T 2>/dev/null | tail -n 300 || dmesg | tail -n 300'],
  ['iptables-save.txt', 'iptables-save', 'iptables-save'],
  ['df.txt', 'df', 'df -h'],
  ['free.txt', 'free', 'free -m'],
  ['time.txt', 'time and uptime', 'date -u; date +%s.%N; uptime'],
]

export async function collectBundle(inv: Inventory, conns: Connections, o: { tail: number; out?: Output }): Promise<{ dir: string; manifest: Manifest }> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dr-diagnose-'))
  const manifest: Manifest = { cluster: inv.cluster, createdAt: new Date().toISOString(), hosts: Object.keys(inv.hosts), items: [] }
  const write = async (rel: string, what: string, content: string | unknown, host?: string) => {
    const r = typeof content === 'string' ? redactText(content) : (() => { const j = redactJson(content); const t = redactText(JSON.stringify(j.value, null, 2)); return { value: t.value, count: j.count + t.count } })()
    await fsp.mkdir(path.dirname(path.join(dir, rel)), { recursive: true })
    await fsp.writeFile(path.join(dir, rel), r.value, { mode: 0o600 })
    manifest.items.push({ path: rel, host, what, ok: true, bytes: Buffer.byteLength(r.value), redacted: r.count })
  }
  const failed = (rel: string, what: string, error: string, host?: string) => manifest.items.push({ path: rel, host, what, ok: false, bytes: 0, redacted: 0, error: redactText(error).value.slice(0, 500) })

  o.out?.progress(`collecting from ${Object.keys(inv.hosts).length} hosts (${inv.ssh.concurrency} at a time)`)
  const results = await conns.map(Object.keys(inv.hosts), async (t, h) => {
    for (const [file, what, cmd] of HOST_COMMANDS) {
      const r = await t.exec(cmd, { nothrow: true, timeoutMs: 30_000 })
      if (r.ok || r.stdout.trim()) await write(`hosts/${h.name}/${file}`, what, r.stdout + (r.ok ? '' : r.stderr), h.name)
      else failed(`hosts/${h.name}/${file}`, what, (r.stderr || `exit ${r.exitCode}`).trim(), h.name)
    }
    const ps = await t.exec(`docker ps -a --format '{{.Names}}'`, { nothrow: true })
    const names = ps.stdout.split('\n').filter((n) => CONTROL_PLANE.test(n))
    if (names.length) {
      const ins = await t.exec(`docker inspect ${names.map(quote).join(' ')}`, { nothrow: true, timeoutMs: 30_000 })
      if (ins.ok) await write(`hosts/${h.name}/inspect.json`, `docker inspect ${names.join(' ')}`, JSON.parse(ins.stdout), h.name)
      else failed(`hosts/${h.name}/inspect.json`, 'docker inspect', ins.stderr, h.name)
      for (const n of names) {
        const l = await t.exec(`docker logs --tail ${o.tail} ${quote(n)} 2>&1`, { nothrow: true, timeoutMs: 30_000 })
        if (l.ok) await write(`hosts/${h.name}/logs/${n}.log`, `docker logs --tail ${o.tail} ${n}`, l.stdout, h.name)
        else failed(`hosts/${h.name}/logs/${n}.log`, `docker logs ${n}`, l.stdout + l.stderr, h.name)
      }
    }
  })
  for (const r of results) if (r.error) failed(`hosts/${r.host}/`, 'everything from this host', `${r.error.code}: ${r.error.message}`, r.host)

  o.out?.progress('collecting etcd status and members, Nodes, pods and events')
  const status = await probeCluster(conns, inv, { timeoutMs: 3000 })
  await write('cluster/etcd-status.json', 'etcd status per member (dr status)', { members: status.members, verdict: status.verdict })
  if (status.memberList.length) await write('cluster/etcd-members.json', `etcd member list (as ${status.memberListFrom} sees it)`, status.memberLists)
  else failed('cluster/etcd-members.json', 'etcd member list', 'no member answered')
  const kube = await kubeObjects(inv, conns)
  for (const [file, what, r] of kube) {
    if ('error' in r) failed(`cluster/${file}`, what, r.error)
    else await write(`cluster/${file}`, what, r.value)
  }
  manifest.items.push({ path: 'manifest.json', what: 'this list', ok: true, bytes: 0, redacted: 0 })
  await fsp.writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2), { mode: 0o600 })
  return { dir, manifest }
}

type Got = { value: unknown } | { error: string }

async function kubeObjects(inv: Inventory, conns: Connections): Promise<Array<[string, string, Got]>> {
  const errs = (e: unknown) => ({ error: (e as Error).message.split('\n')[0] })
  const lists: Array<[string, string, (k: KubeConnection) => Promise<unknown>]> = [
    ['nodes.json', 'Nodes', (k) => k.api.listNode()],
    ['pods.json', 'pods in all namespaces', (k) => k.api.listPodForAllNamespaces()],
    ['events.json', 'events in all namespaces', (k) => k.api.listEventForAllNamespaces()],
  ]
  // Each list from the first apiserver that answers it: one that is restarting or slow under load fails a list,
  // and the next controlplane host may still give it. The errors of every host tried are kept for the manifest.
  const got = new Map<string, [string, Got]>()
  const tried: Record<string, string[]> = {}
  for (const h of hostsWithRole(inv, 'controlplane')) {
    const want = lists.filter(([file]) => !got.has(file))
    if (want.length === 0) break
    let k: KubeConnection
    try {
      k = await connectKube(conns, inv, h.name)
    } catch (e) {
      for (const [file] of want) (tried[file] ??= []).push(`${h.name}: ${errs(e).error}`)
      continue
    }
    try {
      for (const [file, what, fn] of want) {
        try {
          got.set(file, [`${what} (via ${h.name})`, { value: await fn(k) }])
        } catch (e) {
          ;(tried[file] ??= []).push(`${h.name}: ${errs(e).error}`)
        }
      }
    } finally {
      await k.close()
    }
  }
  return lists.map(([file, what]) => {
    const ok = got.get(file)
    if (ok) return [file, ok[0], ok[1]]
    return [file, what, { error: tried[file]?.join('; ') || 'no kube-apiserver could be reached (no controlplane host)' }]
  })
}

/** tar -czf the bundle (the directory's contents at the top level). */
export async function writeTarball(dir: string, out: string): Promise<void> {
  const r = await runLocal(['tar', '-czf', path.resolve(out), '-C', dir, '.'], { timeoutMs: 120_000 })
  if (!r.ok) throw new DrError({ code: 'diagnose.tar-failed', message: `could not write ${out}`, stderr: r.stderr, hint: 'check that the directory exists and is writable' })
}
