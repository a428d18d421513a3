// Bad inventories: every problem reported at once, each at its file:line:column with its field path and a hint.
import t from 'tap'
import path from 'node:path'
import { readInventoryFile, loadInventory } from '../../src/inventory/load.ts'
import { formatPath, type Problem } from '../../src/inventory/problems.ts'

const dir = path.resolve(import.meta.dirname, '../fixtures/inventory/bad')

/** `line:col path` for each problem, in file order. */
const where = (ps: Problem[]) => ps.map((p) => `${p.line}:${p.col} ${formatPath(p.path)}`)
const find = (ps: Problem[], p: string) => ps.find((x) => formatPath(x.path) === p)

t.test('a host in two sites, or twice in one', async (t) => {
  const r = await readInventoryFile(path.join(dir, 'two-sites.yaml'))
  t.same(where(r.errors), ['5:20 sites.B.hosts[1]', '5:24 sites.B.hosts[2]'])
  t.match(r.errors[0], { message: 'host m1 is in two sites: A and B', hint: /exactly one site/ })
  t.match(r.errors[1], { message: 'host m3 is listed twice in site B' })
  t.notOk(r.inventory)
})

t.test('hosts: undefined in a site list, unknown role, no address, duplicate address, in no site', async (t) => {
  const r = await readInventoryFile(path.join(dir, 'hosts.yaml'))
  t.same(where(r.errors), ['8:9 sites.A.hosts[2]', '11:56 hosts.m1.roles[2]', '12:3 hosts.m2', '14:18 hosts.m3.address', '15:3 hosts.w9'])
  t.match(find(r.errors, 'sites.A.hosts[2]'), { message: /names host "mx", which is not defined/ })
  t.match(find(r.errors, 'hosts.m1.roles[2]'), { message: 'unknown role "wroker"', hint: 'did you mean "worker"?' })
  t.match(find(r.errors, 'hosts.m2'), { message: 'host m2 has no address', hint: /address:/ })
  t.match(find(r.errors, 'hosts.m3.address'), { message: 'host m3 has the same address as m1 (10.0.0.1)' })
  t.match(find(r.errors, 'hosts.w9'), { message: 'host w9 is in no site', hint: /sites: A, B/ })
})

t.test('unknown keys are typos with "did you mean"', async (t) => {
  const r = await readInventoryFile(path.join(dir, 'typos.yaml'))
  t.same(where(r.errors), ['1:1 flavor', '2:1 flavour', '4:3 ssh.usr', '7:21 sites.A.host', '9:43 hosts.m1.sshh', '11:3 etcd.caFlie'])
  t.match(find(r.errors, 'flavour'), { message: 'unknown key "flavour"', hint: 'did you mean "flavor"?' })
  t.match(find(r.errors, 'ssh.usr'), { hint: 'did you mean "user"?' })
  t.match(find(r.errors, 'sites.A.host'), { hint: 'did you mean "hosts"?' })
  t.match(find(r.errors, 'hosts.m1.sshh'), { hint: 'did you mean "ssh"?' })
  t.match(find(r.errors, 'etcd.caFlie'), { hint: 'did you mean "caFile"?' })
  t.match(find(r.errors, 'flavor'), { message: 'the flavor is missing' })
})

t.test('wrong types and values', async (t) => {
  const r = await readInventoryFile(path.join(dir, 'types.yaml'))
  t.same(where(r.errors), ['2:9 flavor', '4:9 ssh.port', '5:16 ssh.concurrency', '6:9 ssh.sudo', '10:35 hosts.m1.roles', '10:52 hosts.m1.transport', '10:71 hosts.m1.hostKeys[0]'])
  t.match(find(r.errors, 'flavor'), { message: 'unknown flavor "kubeadmm"', hint: 'did you mean "kubeadm"?' })
  t.match(find(r.errors, 'ssh.port'), { message: 'expected a number, got a string', hint: /without quotes/ })
  t.match(find(r.errors, 'ssh.sudo'), { message: 'expected a boolean, got a string' })
  t.match(find(r.errors, 'hosts.m1.roles'), { message: 'expected an array, got a string' })
  t.match(find(r.errors, 'hosts.m1.transport'), { hint: 'use one of ssh, local, docker-exec' })
  t.match(find(r.errors, 'hosts.m1.hostKeys[0]'), { hint: /ssh-keygen -lf/ })
})

t.test('references: jump hosts, stores, the default store', async (t) => {
  const r = await readInventoryFile(path.join(dir, 'refs.yaml'))
  t.same(where(r.errors), [
    '4:13 ssh.jumpHost',
    '9:60 hosts.m1.ssh.jumpHost',
    '10:3 hosts.d1',
    '13:5 backup.stores.a',
    '14:16 backup.stores.b.type',
    '15:5 backup.stores.c',
    '15:20 backup.stores.c.path',
    '16:5 backup.stores.d',
    '17:28 backup.stores.e.host',
    '18:17 backup.defaultStore',
  ])
  t.match(find(r.errors, 'ssh.jumpHost'), { message: 'jump host "bastoin" is not a host of this inventory', hint: 'did you mean "bastion"?' })
  t.match(find(r.errors, 'hosts.m1.ssh.jumpHost'), { message: 'host m1 names itself as its jump host' })
  t.match(find(r.errors, 'backup.stores.a'), { message: 'sftp store a needs `host`' })
  t.match(find(r.errors, 'backup.stores.b.type'), { message: 'unknown store type "s4"', hint: 'did you mean "s3"?' })
  t.match(find(r.errors, 'backup.stores.c'), { message: 's3 store c needs `bucket`' })
  t.match(find(r.errors, 'backup.stores.c.path'), { message: '`path` is not a field of a s3 store' })
  t.match(find(r.errors, 'backup.stores.d'), { message: 'store d has no type' })
  t.match(find(r.errors, 'backup.stores.e.host'), { message: /names host "nohost"/ })
  t.match(find(r.errors, 'backup.defaultStore'), { message: 'default store "f" is not defined under backup.stores', hint: /known: a, b, c, d, e/ })
})

t.test('YAML syntax errors and duplicate keys have positions too', async (t) => {
  const syntax = await readInventoryFile(path.join(dir, 'syntax.yaml'))
  t.ok(syntax.errors.length >= 1)
  t.match(syntax.errors[0], { line: 4, message: /Flow sequence/ })
  const dup = await readInventoryFile(path.join(dir, 'duplicate-key.yaml'))
  t.same(where(dup.errors), ['7:3 (top level)'])
  t.match(dup.errors[0], { message: /unique/, hint: /merge/ })
  const empty = await readInventoryFile(path.join(dir, 'empty.yaml'))
  t.match(empty.errors[0], { message: /must be a YAML mapping/ })
})

t.test('loadInventory throws one inventory.invalid error listing every problem', async (t) => {
  const file = path.join(dir, 'many-problems.yaml')
  const e = await loadInventory(file).catch((e) => e)
  t.match(e, { code: 'inventory.invalid', exit: 'usage' })
  t.match(e.message, /has 14 errors and 3 warnings/)
  const lines = e.message.split('\n').filter((l: string) => /: error: /.test(l))
  t.equal(lines.length, 14)
  t.match(lines[0], /many-problems\.yaml:2:9: error: flavor: unknown flavor "rkee"/)
  t.match(e.message, /many-problems\.yaml:9:25: error: sites\.B\.hosts\[1\]: host master1 is in two sites: A and B/)
  t.match(e.message, /hint: did you mean "identityFile"\?/)
  t.match(e.hint, /dr inventory check -i/)
  t.equal(e.details.errors.length, 14)
  await t.rejects(loadInventory(path.join(dir, 'no-such-file.yaml')), { code: 'inventory.unreadable', exit: 'usage' })
})
