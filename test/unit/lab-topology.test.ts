import t from 'tap'
import { capBndOf, capsFromMask, unknownCapIn } from '../../src/lab/caps.ts'
import { containerName, freeSubnet, parseSites, planLab, subnetFor } from '../../src/lab/topology.ts'
import { isDrError } from '../../src/core/error.ts'

t.test('CapBnd → capability names', async (t) => {
  const caps = capsFromMask('000001fffeffffff')
  t.equal(caps.length, 40, '41 known capabilities minus one')
  t.notOk(caps.includes('SYS_RESOURCE'), 'bit 24 is clear in this host’s mask')
  t.ok(caps.includes('SYS_ADMIN') && caps.includes('NET_ADMIN') && caps.includes('CHECKPOINT_RESTORE'))
  t.same(capsFromMask('0'), [])
  t.same(capsFromMask('3'), ['CHOWN', 'DAC_OVERRIDE'])
  t.same(capsFromMask('a80425fb').slice(0, 3), ['CHOWN', 'DAC_OVERRIDE', 'FOWNER'], "docker's default set")
  t.equal(capBndOf('Name:\tnode\nCapEff:\t0000000000000000\nCapBnd:\t000001fffeffffff\nCapAmb:\t0\n'), '000001fffeffffff')
  t.throws(() => capBndOf('Name: x\n'))
})

t.test('an engine that does not know a capability names it', async (t) => {
  t.equal(unknownCapIn('docker: Error response from daemon: invalid CapAdd: unknown capability: "CAP_BPF".'), 'BPF')
  t.equal(unknownCapIn('unknown capability: "CAP_CHECKPOINT_RESTORE"'), 'CHECKPOINT_RESTORE')
  t.equal(unknownCapIn('no space left on device'), undefined)
})

t.test('the default lab is the BRIEF layout', async (t) => {
  const plan = planLab({ name: 'lab', sites: parseSites('A=2,B=1'), workers: 1, subnet: subnetFor('lab') })
  t.same(
    plan.nodes.map((n) => [n.name, n.site, n.roles.join(','), n.ip, n.container]),
    [
      ['master1', 'A', 'etcd,controlplane', '172.30.0.11', 'dr-lab-master1'],
      ['master2', 'A', 'etcd,controlplane', '172.30.0.12', 'dr-lab-master2'],
      ['node1', 'A', 'worker', '172.30.0.13', 'dr-lab-node1'],
      ['master3', 'B', 'etcd,controlplane', '172.30.0.14', 'dr-lab-master3'],
      ['node2', 'B', 'worker', '172.30.0.15', 'dr-lab-node2'],
    ],
  )
  t.equal(plan.network, 'dr-lab-lab')
  t.equal(plan.gateway, '172.30.0.1')
})

t.test('other shapes and names', async (t) => {
  const plan = planLab({ name: 'big', sites: parseSites('A=2,B=2,C=1'), workers: 2, subnet: '10.9.8.0/24' })
  t.same(plan.nodes.map((n) => `${n.name}@${n.site}=${n.ip}`), [
    'master1@A=10.9.8.11', 'master2@A=10.9.8.12', 'node1@A=10.9.8.13', 'node2@A=10.9.8.14',
    'master3@B=10.9.8.15', 'master4@B=10.9.8.16', 'node3@B=10.9.8.17', 'node4@B=10.9.8.18',
    'master5@C=10.9.8.19', 'node5@C=10.9.8.20', 'node6@C=10.9.8.21',
  ])
  t.equal(containerName('big', 'master1'), 'dr-lab-big-master1', 'a named lab prefixes its containers')
  t.equal(planLab({ name: 'w0', sites: parseSites('A=1'), workers: 0, subnet: subnetFor('w0') }).nodes.length, 1)
  t.equal(subnetFor('lab-e2e'), subnetFor('lab-e2e'), 'stable')
  t.not(subnetFor('lab-e2e'), '172.30.0.0/24', 'and not the default lab’s')
  t.match(subnetFor('x'), /^172\.30\.\d+\.0\/24$/)
})

t.test('bad options are usage errors that say what to write', async (t) => {
  for (const bad of ['A', 'A=0', 'A=1,A=2', 'A=x', '1=2', 'A=4,B=4']) {
    const e = (() => { try { parseSites(bad) } catch (e) { return e } })()
    t.ok(isDrError(e) && e.exit === 'usage', `--sites ${bad}`)
  }
  t.throws(() => planLab({ name: 'Bad_Name', sites: parseSites('A=1'), workers: 0, subnet: '10.0.0.0/24' }), { code: 'lab.bad-option' })
  t.throws(() => planLab({ name: 'ok', sites: parseSites('A=1'), workers: 0, subnet: '10.0.0.0/16' }), { code: 'lab.bad-option' })
})

t.test('a lab network avoids subnets docker already uses', async (t) => {
  t.equal(freeSubnet('172.30.0.0/24', ['172.17.0.0/16']), '172.30.0.0/24')
  t.equal(freeSubnet('172.30.0.0/24', ['172.30.0.0/24', '172.30.1.0/24']), '172.30.2.0/24')
  t.equal(freeSubnet('172.30.250.0/24', ['172.30.250.0/24']), '172.30.1.0/24', 'wraps around')
  t.throws(() => freeSubnet('172.30.1.0/24', Array.from({ length: 251 }, (_, i) => `172.30.${i}.0/24`)), { code: 'lab.bad-option' })
})
