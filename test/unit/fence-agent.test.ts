// The inventory's out-of-band fence agents (STONITH): parsed per site and host, checked with clear errors, and
// expanded into argv without a shell; the power verdict read from a status command's output.
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { readInventoryFile } from '../../src/inventory/load.ts'
import { formatPath } from '../../src/inventory/problems.ts'
import { expandFence, powerFromStatus } from '../../src/cluster/power.ts'
import { chooseEviction } from '../../src/kube/eviction.ts'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-fence-agent-'))
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))

const base = (sites: string, hosts: string) => `cluster: c
flavor: rke
sites:
${sites}
hosts:
${hosts}
`
async function read(name: string, text: string) {
  const file = path.join(dir, `${name}.yaml`)
  fs.writeFileSync(file, text)
  return readInventoryFile(file)
}

t.test('a site agent applies to its hosts; a host agent overrides fields and merges vars', async (t) => {
  const r = await read(
    'ok',
    base(
      `  A:
    hosts: [m1, m2]
    fence:
      off: ipmitool -I lanplus -H {bmc} -U admin -E chassis power off
      status: ipmitool -I lanplus -H {bmc} -U admin -E chassis power status
      vars: { bmc: 10.9.9.1 }
  B:
    hosts: [m3]`,
      `  m1: { address: 10.0.0.1, roles: [etcd] }
  m2: { address: 10.0.0.2, roles: [etcd], fence: { vars: { bmc: 10.9.9.2 }, offPattern: "is off" } }
  m3: { address: 10.0.0.3, roles: [etcd] }`,
    ),
  )
  t.same(r.errors, [])
  const inv = r.inventory!
  t.same(inv.hosts.m1.fence?.off, ['ipmitool', '-I', 'lanplus', '-H', '{bmc}', '-U', 'admin', '-E', 'chassis', 'power', 'off'])
  t.equal(inv.hosts.m2.fence?.vars.bmc, '10.9.9.2', "the host's vars win")
  t.equal(inv.hosts.m2.fence?.offPattern, 'is off')
  t.equal(inv.hosts.m3.fence, undefined, 'site B has no agent')
  t.same(expandFence(inv.hosts.m2.fence!.off, inv.hosts.m2, inv.hosts.m2.fence!.vars).slice(3, 5), ['-H', '10.9.9.2'])
})

t.test('missing commands, unknown placeholders and bad patterns are errors that say where and what to do', async (t) => {
  const r = await read(
    'bad',
    base(
      `  A:
    hosts: [m1]
    fence:
      off: virsh destroy {domain}
  B:
    hosts: [m2]`,
      `  m1: { address: 10.0.0.1, roles: [etcd] }
  m2: { address: 10.0.0.2, roles: [etcd], fence: { off: [virsh, destroy, '{host}'], status: [virsh, domstate, '{host}'], offPattern: "(" } }`,
    ),
  )
  const msgs = r.errors.map((e) => `${formatPath(e.path)}: ${e.message}`)
  t.match(msgs.join('\n'), /sites\.A\.fence: the fence agent of site A has no `status` command/)
  t.match(msgs.join('\n'), /sites\.A\.fence\.off: the fence off command of host m1 uses \{domain\}, which is not defined/)
  t.match(msgs.join('\n'), /hosts\.m2\.fence\.offPattern: offPattern is not a regular expression/)
  t.match(r.errors.find((e) => /\{domain\}/.test(e.message))!.hint, /fence\.vars/)
  t.notOk(r.inventory)
  t.ok(r.errors.every((e) => e.line && e.line > 0), 'each error has a line')
})

t.test('expansion is per argument, never through a shell', async (t) => {
  const argv = expandFence(['virsh', 'destroy', '{host}', '{address}:{site}'], { name: 'm1; rm -rf /', address: '10.0.0.1', site: 'A' }, {})
  t.same(argv, ['virsh', 'destroy', 'm1; rm -rf /', '10.0.0.1:A'])
  t.equal(powerFromStatus('Chassis Power is off\n', { offPattern: '\\boff\\b' }), 'off')
  t.equal(powerFromStatus('Chassis Power is on\n', { offPattern: '\\boff\\b' }), 'on')
  t.equal(powerFromStatus('master1: power off\n', { offPattern: ': power off\\b' }), 'off')
})

t.test('eviction follows the server version: the out-of-service taint from 1.26, Node deletion before', async (t) => {
  t.equal(chooseEviction({ major: 1, minor: 20, gitVersion: 'v1.20.5' }, false).method, 'delete-node')
  t.equal(chooseEviction({ major: 1, minor: 24, gitVersion: 'v1.24.3' }, false).method, 'delete-node', 'alpha behind a gate: not relied on')
  t.equal(chooseEviction({ major: 1, minor: 26, gitVersion: 'v1.26.0' }, false).method, 'taint-out-of-service')
  t.equal(chooseEviction({ major: 1, minor: 28, gitVersion: 'v1.28.0' }, false).method, 'taint-out-of-service')
  t.equal(chooseEviction({ major: 1, minor: 28, gitVersion: 'v1.28.0' }, true).method, 'delete-node', '--delete-nodes wins')
  t.match(chooseEviction({ major: 1, minor: 20, gitVersion: 'v1.20.5' }, false).reason, /before 1\.26/)
})
