// The static-pod component's runtimes: which one a host gets (kind → containerd, the label overrides), and the
// reading of `ctr containers info` + `ctr tasks ls` (containerd 1.6's output, as the list script prints it) into
// docker's inspect shape, newest first, with a container that has no task (after a reboot) not running.
import t from 'tap'
import { processArgv } from '../../src/container/inspect.ts'
import { parseCtrList, runtimeName } from '../../src/component/runtime.ts'
import type { Inventory } from '../../src/inventory/types.ts'

const info = (id: string, created: string, args: string[]) =>
  JSON.stringify({
    ID: id,
    Labels: { 'io.cri-containerd.kind': 'container', 'io.kubernetes.container.name': 'etcd', 'io.kubernetes.pod.name': 'etcd-master3', 'io.kubernetes.pod.namespace': 'kube-system', 'io.kubernetes.pod.uid': 'u1' },
    Image: 'docker.io/dr-lab/coreos-etcd:v3.4.23',
    Runtime: { Name: 'io.containerd.runc.v2' },
    CreatedAt: created,
    Spec: { ociVersion: '1.0.2-dev', process: { args, env: ['PATH=/usr/bin'] } },
  }, null, 4)

const A = 'a'.repeat(64)
const B = 'b'.repeat(64)
const C = 'c'.repeat(64)
const out = [
  '', `@@dr-container ${A}`, info(A, '2026-12-02T03:56:43.1Z', ['etcd', '--name=master3', '--force-new-cluster']),
  '', `@@dr-container ${B}`, info(B, '2026-12-02T03:58:00.5Z', ['etcd', '--name=master3']),
  '', `@@dr-container ${C}`, info(C, '2026-12-02T03:50:00Z', ['etcd', '--name=old']),
  '', '@@dr-tasks',
  'TASK                                                                PID     STATUS    ',
  `${A}    3191    STOPPED`,
  `${B}    3717    RUNNING`,
  '',
].join('\n')

t.test('ctr output → containers in docker inspect shape, newest first', async (t) => {
  const cs = parseCtrList(out)
  t.same(cs.map((c) => c.Id), [B, A, C])
  t.same(cs.map((c) => [c.State?.Running, c.State?.Status]), [[true, 'running'], [false, 'stopped'], [false, 'exited']], 'no task (a reboot since): not running')
  t.same(processArgv(cs[0]), ['etcd', '--name=master3'])
  t.equal(cs[0].Config.Labels?.['io.kubernetes.pod.name'], 'etcd-master3')
  t.equal(cs[0].Config.Image, 'docker.io/dr-lab/coreos-etcd:v3.4.23')
  t.same(parseCtrList('\n@@dr-tasks\nTASK    PID    STATUS    \n'), [], 'no container: an empty list')
})

t.test('the runtime of a host: containerd on kind, docker otherwise, the label overrides', async (t) => {
  const inv = (flavor: Inventory['flavor'], labels: Record<string, string> = {}) => ({ flavor, hosts: { m1: { labels } } }) as unknown as Inventory
  t.equal(runtimeName(inv('kind'), 'm1'), 'containerd')
  t.equal(runtimeName(inv('kubeadm'), 'm1'), 'docker')
  t.equal(runtimeName(inv('kubeadm', { 'dr.container-runtime': 'containerd' }), 'm1'), 'containerd')
  t.equal(runtimeName(inv('kind', { 'dr.container-runtime': 'docker' }), 'm1'), 'docker')
})
