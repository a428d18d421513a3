// When does a kube-apiserver's --etcd-servers name live members only: RKE's list of every member must be exactly
// the live ones; kubeadm's loopback URL stands for the host's own member, which must be live.
import t from 'tap'
import { etcdServersHold } from '../../runbooks/steps/kube.ts'

const m1 = 'https://10.0.0.11:2379'
const m2 = 'https://10.0.0.12:2379'
const m3 = 'https://10.0.0.14:2379'

t.test('RKE: exactly the live members, in any order', async (t) => {
  t.ok(etcdServersHold([m3], [m3], m3))
  t.ok(etcdServersHold([m3, m2], [m2, m3], m3))
  t.notOk(etcdServersHold([m1, m2, m3], [m3], m3), 'dead members listed (seed 003)')
  t.notOk(etcdServersHold([m3], [m2, m3], m3), 'a live member missing')
  t.notOk(etcdServersHold([], [m3], m3), 'no servers at all')
})

t.test("kubeadm: its own member through loopback holds only while that member is live", async (t) => {
  t.ok(etcdServersHold(['https://127.0.0.1:2379'], [m3], m3))
  t.ok(etcdServersHold(['https://localhost:2379'], [m2, m3], m3), 'one of several live members')
  t.ok(etcdServersHold(['https://[::1]:2379'], [m3], m3))
  t.notOk(etcdServersHold(['https://127.0.0.1:2379'], [m3], m1), 'the host\'s own member is dead')
  t.notOk(etcdServersHold(['https://127.0.0.1:2379', m1], [m3], m3), 'loopback plus a dead member')
  t.notOk(etcdServersHold(['not a url'], [m3], m3), 'garbage is never taken for the local member')
})
