// Version-aware eviction on a lab whose stand-in apiserver claims and behaves as Kubernetes 1.28 (the
// out-of-service taint makes pod GC remove the evicted pods), site A fenced out of band first (the failover's
// power-fence step, run through a tiny runbook), and the Kubernetes steps that refuse rather than say "done":
// no kubeconfig → refused before anything changes, unless --skip-kubernetes, which the plan and summary repeat.
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import YAML from 'yaml'
import { PassThrough } from 'node:stream'
import { dr as drRaw, ROOT } from '../helpers/dr.ts'
import { TestLab } from '../helpers/lab.ts'
import { apiClient } from '../../src/lab/api.ts'
import { apply } from '../../src/runbook/engine.ts'
import { loadInventory } from '../../src/inventory/load.ts'
import { Connections } from '../../src/transport/connect.ts'
import { Output } from '../../src/core/output.ts'
import { powerOffSite } from '../../runbooks/steps/power-fence.ts'
import type { Runbook } from '../../src/runbook/types.ts'

const lab = new TestLab('e2e-k128')
const dr = lab.dr.bind(lab)
const made: string[] = []
const siteA = ['master1', 'master2', 'node1']
const api = () => apiClient(path.join(ROOT, 'inventories', lab.name, 'pki'), lab.address('master3'))
const podsOn = async (nodes: string[]) =>
  ((await api().request('GET', '/api/v1/pods')).body.items as any[]).filter((p) => nodes.includes(p.spec?.nodeName)).map((p) => `${p.metadata.name}@${p.spec.nodeName}`)
const power = async (node: string) => (await drRaw(['lab', 'power', 'status', node, '--name', lab.name])).stdout.trim()

t.before(async () => {
  await lab.down()
  const up = await drRaw(['lab', 'up', '--name', lab.name, '--k8s-version', '1.28.0'], { timeoutMs: 900_000 })
  if (up.code !== 0) throw new Error(`lab up --k8s-version 1.28.0 failed:\n${up.stderr.slice(-3000)}`)
})
t.teardown(async () => {
  for (const f of made) fs.rmSync(f, { force: true })
  await lab.down()
})

t.test('the stand-in claims 1.28', async (t) => {
  const v = await api().request('GET', '/version')
  t.match(v.body, { major: '1', minor: '28', gitVersion: /^v1\.28\.0/ })
})

t.test("the failover's first step powers the lost site off through its fence agent and confirms it", async (t) => {
  const inv = await loadInventory(lab.inventory)
  const conns = new Connections(inv)
  const out = new Output({ json: true, verbose: false, stdout: new PassThrough(), stderr: new PassThrough() })
  t.ok((await podsOn(siteA)).length >= 3, 'site A runs its hello-world pods')
  const rb: Runbook<object> = { name: 'power-off-a', title: 'power site A off', assess: async () => ({}), describe: () => [], steps: () => powerOffSite<object>('A', inv) }
  try {
    const r = await apply(rb, { inv, conns, out, options: {}, yes: true })
    t.equal(r.status, 'succeeded')
    t.same(r.plan.steps[0].changes.map((c) => c.host), siteA, 'every host of site A, workers included')
    t.match(r.steps[0].evidence, /power off confirmed by the fence agent: master1, master2, node1/)
    for (const n of siteA) t.equal(await power(n), `${n}: power off`, `${n} is off (docker says)`)
    t.equal(await power('master3'), 'master3: power on', 'site B untouched')
    const again = await apply(rb, { inv, conns, out, options: {}, yes: true })
    t.equal(again.status, 'nothing-to-do', 'a site already off: nothing to do')
  } finally {
    await conns.close()
  }
  t.same(powerOffSite('B', { ...inv, hosts: Object.fromEntries(Object.entries(inv.hosts).map(([k, h]) => [k, { ...h, fence: undefined }])) }), [], 'no step where no agent is configured')
})

t.test('without a kubeconfig the failover refuses before changing anything, unless --skip-kubernetes', async (t) => {
  const doc = YAML.parse(fs.readFileSync(lab.inventory, 'utf8'))
  delete doc.kubernetes.kubeconfig
  const file = path.join(path.dirname(lab.inventory), `${lab.name}-nokube.yaml`)
  fs.writeFileSync(file, YAML.stringify(doc))
  made.push(file)
  const ids = await lab.containerIds('master3')
  const r = await drRaw(['failover', '--site', 'B', '--yes', '-i', file])
  t.equal(r.code, 3, 'refused')
  t.match(r.stderr, /error\[kube\.no-credentials\]: cannot move the lost site's pods/)
  t.match(r.stderr, /--skip-kubernetes/, 'says how to go on without Kubernetes')
  t.equal(await lab.containerIds('master3'), ids, 'nothing changed')
  const p = await drRaw(['failover', '--site', 'B', '--plan', '--skip-kubernetes', '-i', file])
  t.equal(p.code, 0, p.stderr)
  t.match(p.stderr, /Kubernetes: SKIPPED \(--skip-kubernetes\)/, 'the skip is said out loud')
})

t.test('on 1.28 the lost Nodes are tainted out-of-service and their pods move', async (t) => {
  const r = await dr(['failover', '--site', 'B', '--yes', '--json'])
  t.equal(r.code, 0, r.stderr.slice(-3000))
  const nodes = r.json().steps.find((s: any) => s.id === 'taint-dead-nodes')
  t.match(nodes.evidence, /tainted — Kubernetes v1\.28\.0.*moves pods/)
  t.match(nodes.evidence, /tainted out-of-service: master1, master2, node1/)
  const items = (await api().request('GET', '/api/v1/nodes')).body.items as any[]
  for (const n of siteA) {
    const node = items.find((x) => x.metadata.name === n)
    t.ok(node, `Node ${n} is kept`)
    t.ok((node?.spec?.taints ?? []).some((x: any) => x.key === 'node.kubernetes.io/out-of-service' && x.effect === 'NoExecute'), `${n} tainted out-of-service`)
  }
  t.same(await podsOn(siteA), [], 'no pod left on the lost Nodes (checked from outside dr)')
})
