// The apiserver stand-in's PATCH formats (a lab test fixture, but dr's taint handling depends on it behaving
// like Kubernetes): JSON patch, merge patch, and strategic merge patch with replace-whole taints.
import t from 'tap'
import { applyJsonPatch, mergePatch, strategicMergePatch } from '../../src/lab/fixture/patch.mjs'

const node = () => ({
  metadata: { name: 'master1', labels: { a: '1' } },
  spec: { taints: [{ key: 'x', effect: 'NoSchedule' }] },
  status: { conditions: [{ type: 'Ready', status: 'True' }, { type: 'MemoryPressure', status: 'False' }] },
})

t.test('JSON patch (what @kubernetes/client-node sends)', async (t) => {
  const n = applyJsonPatch(node(), [
    { op: 'add', path: '/spec/taints/-', value: { key: 'y', effect: 'NoExecute' } },
    { op: 'replace', path: '/metadata/labels/a', value: '2' },
    { op: 'add', path: '/metadata/labels/node-role.kubernetes.io~1etcd', value: 'true' },
    { op: 'test', path: '/metadata/name', value: 'master1' },
  ])
  t.same(n.spec.taints.map((x: any) => x.key), ['x', 'y'])
  t.same(n.metadata.labels, { a: '2', 'node-role.kubernetes.io/etcd': 'true' })
  t.same(applyJsonPatch(node(), [{ op: 'remove', path: '/spec/taints/0' }]).spec.taints, [])
  t.throws(() => applyJsonPatch(node(), [{ op: 'test', path: '/metadata/name', value: 'other' }]), { code: 422 })
  t.throws(() => applyJsonPatch(node(), [{ op: 'remove', path: '/spec/nothing' }]), { code: 422 })
  t.throws(() => applyJsonPatch(node(), [{ op: 'add', path: '/a/b/c', value: 1 }]), { code: 422 })
})

t.test('merge patch: objects merge, null deletes, lists replace', async (t) => {
  const n = mergePatch(node(), { metadata: { labels: { a: null, b: '2' } }, spec: { taints: [{ key: 'z', effect: 'NoExecute' }] } })
  t.same(n.metadata.labels, { b: '2' })
  t.same(n.spec.taints, [{ key: 'z', effect: 'NoExecute' }])
  t.equal(n.status.conditions.length, 2, 'untouched parts stay')
})

t.test('strategic merge patch: taints replace whole, conditions merge by type', async (t) => {
  const n = strategicMergePatch(node(), {
    spec: { taints: [{ key: 'node.kubernetes.io/out-of-service', effect: 'NoExecute' }] },
    status: { conditions: [{ type: 'Ready', status: 'Unknown' }] },
    $setElementOrder: { x: [] },
  })
  t.same(n.spec.taints, [{ key: 'node.kubernetes.io/out-of-service', effect: 'NoExecute' }])
  t.same(n.status.conditions, [{ type: 'Ready', status: 'Unknown' }, { type: 'MemoryPressure', status: 'False' }])
  t.notOk('$setElementOrder' in n)
  const del = strategicMergePatch(node(), { status: { conditions: [{ type: 'MemoryPressure', $patch: 'delete' }] } })
  t.same(del.status.conditions.map((c: any) => c.type), ['Ready'])
  t.same(strategicMergePatch(node(), { spec: { taints: null } }).spec, {})
})
