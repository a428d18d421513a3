// `dr inventory …` as a user runs it: the example checks clean, a broken copy fails with every problem and exit 2.
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { parse } from 'yaml'

// Real processes on a busy machine: more than tap's default 30 s per file.
t.setTimeout(240_000)

const root = path.resolve(import.meta.dirname, '../..')
const example = path.join(root, 'inventories/examples/rke-two-sites.yaml')
const dr = (...args: string[]) => spawnSync(process.execPath, [path.join(root, 'bin/dr.js'), ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, DR_INVENTORY: '' } })

t.test('check on the example: summary, table, warning, exit 0', async (t) => {
  const r = dr('inventory', 'check', '-i', example)
  t.equal(r.status, 0, r.stderr)
  t.match(r.stdout, 'cluster seed003, flavor rke, 2 sites, 5 hosts')
  t.match(r.stdout, /A\s+2\s+1\s+2\s+QUORUM LOST/)
  t.match(r.stdout, 'inventory is valid')
  const j = dr('inventory', 'check', '-i', example, '--json')
  const s = JSON.parse(j.stdout)
  t.match(s, { valid: true, cluster: 'seed003', etcdMembers: 3, quorum: 2 })
  t.same(s.siteLoss.map((x: { quorumKept: boolean }) => x.quorumKept), [false, true])
})

t.test('check on a broken copy: every error with file:line:column, exit 2', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-inv-cli-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const broken = fs
    .readFileSync(example, 'utf8')
    .replace('B: { hosts: [master3, node2] }', 'B: { hosts: [master3, node2, master1, node3] }')
    .replace('roles: [worker] }\n  node2', 'roles: [wroker] }\n  node2')
  const file = path.join(dir, 'broken.yaml')
  fs.writeFileSync(file, broken)
  const r = dr('inventory', 'check', file)
  t.equal(r.status, 2)
  t.match(r.stderr, 'error[inventory.invalid]')
  t.match(r.stderr, /broken\.yaml:19:32: error: sites\.B\.hosts\[2\]: host master1 is in two sites: A and B/)
  t.match(r.stderr, /broken\.yaml:19:41: error: sites\.B\.hosts\[3\]: site B names host "node3", which is not defined under hosts/)
  t.match(r.stderr, /broken\.yaml:24:47: error: hosts\.node1\.roles\[0\]: unknown role "wroker"\n\s+hint: did you mean "worker"\?/)
  const j = dr('inventory', 'check', file, '--json')
  t.equal(j.status, 2)
  t.equal(JSON.parse(j.stdout).error.details.errors.length, 3)
})

t.test('show prints the normalised inventory; import-rke writes one that checks', async (t) => {
  const show = dr('inventory', 'show', '-i', example, '--json')
  t.equal(show.status, 0, show.stderr)
  const inv = JSON.parse(show.stdout)
  t.equal(inv.hosts.master3.ssh.user, 'decent')
  t.equal(inv.etcd.certFile, '/etc/kubernetes/ssl/kube-etcd-{ipDashes}.pem')
  const yaml = dr('inventory', 'show', '-i', example)
  t.equal(parse(yaml.stdout).hosts.node1.address, '192.168.31.104')

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-import-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const out = path.join(dir, 'imported.yaml')
  const imp = dr('inventory', 'import-rke', path.join(root, 'inventories/examples/rke-cluster.yml'), '--site', 'A=master1,master2,node1', '--site', 'B=master3,node2', '-o', out)
  t.equal(imp.status, 0, imp.stderr)
  t.match(imp.stdout, `wrote ${out} (5 hosts)`)
  t.equal(dr('inventory', 'check', out).status, 0)
  const again = dr('inventory', 'import-rke', path.join(root, 'inventories/examples/rke-cluster.yml'), '--site', 'A=master1,master2,node1', '--site', 'B=master3,node2', '-o', out)
  t.equal(again.status, 2, 'an existing file is not overwritten without --force')
  t.match(again.stderr, 'import-rke.exists')
})
