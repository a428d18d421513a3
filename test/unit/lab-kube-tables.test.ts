// The lab stand-in's server-side printing (src/lab/fixture/kube-tables.mjs): the Accept header kubectl sends, the
// AGE column as apimachinery's HumanDuration prints it, and the cells of Kubernetes' node and pod printers.
import t from 'tap'
import { humanDuration, tableVersion, toTable } from '../../src/lab/fixture/kube-tables.mjs'

t.test('a Table only when the client asks for one', async (t) => {
  t.equal(tableVersion('application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json'), 'v1')
  t.equal(tableVersion('application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json'), 'v1beta1')
  t.equal(tableVersion('application/json'), null)
  t.equal(tableVersion('application/json, */*'), null)
  t.equal(tableVersion(undefined), null)
  t.equal(tableVersion('application/json;as=Table;v=v2;g=meta.k8s.io'), null, 'an unknown Table version is not served')
})

t.test('AGE as HumanDuration', async (t) => {
  const cases: Array<[number, string]> = [[-5, '<invalid>'], [0, '0s'], [119, '119s'], [120, '2m'], [125, '2m5s'], [600, '10m'], [179 * 60, '179m'],
    [3 * 3600, '3h'], [3 * 3600 + 60, '3h1m'], [47 * 3600, '47h'], [50 * 3600, '2d2h'], [8 * 86400, '8d'], [800 * 86400, '2y70d'], [9 * 365 * 86400, '9y']]
  for (const [s, want] of cases) t.equal(humanDuration(s * 1000), want, `${s} s`)
})

t.test('node rows: STATUS, ROLES, VERSION as the node printer makes them', async (t) => {
  const node = (over: any) => ({ kind: 'Node', metadata: { name: 'n', creationTimestamp: new Date(Date.now() - 90_000).toISOString(), labels: { 'node-role.kubernetes.io/etcd': 'true', 'node-role.kubernetes.io/controlplane': 'true' } }, spec: {}, status: { conditions: [{ type: 'Ready', status: 'True' }], nodeInfo: { kubeletVersion: 'v1.20.5' } }, ...over })
  const table = toTable({ kind: 'NodeList', metadata: { resourceVersion: '7' }, items: [node({}), node({ spec: { unschedulable: true }, status: { conditions: [{ type: 'Ready', status: 'Unknown' }] } }), node({ metadata: { name: 'w', labels: {} }, status: {} })] }, 'v1')
  t.match(table, { kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: { resourceVersion: '7' } })
  t.same(table.columnDefinitions.filter((c: any) => c.priority === 0).map((c: any) => c.name), ['Name', 'Status', 'Roles', 'Age', 'Version'])
  t.same(table.rows[0].cells.slice(0, 5), ['n', 'Ready', 'controlplane,etcd', '90s', 'v1.20.5'])
  t.same(table.rows[1].cells.slice(1, 2), ['NotReady,SchedulingDisabled'])
  t.same(table.rows[2].cells.slice(0, 4), ['w', 'Unknown', '<none>', '<unknown>'])
  t.match(table.rows[0].object, { kind: 'PartialObjectMetadata', metadata: { name: 'n' } }, 'rows carry metadata (kubectl -A, -L)')
  t.equal(toTable(node({}), 'v1', 'None').rows[0].object, undefined, 'includeObject=None')
})

t.test('pod rows: READY, STATUS, RESTARTS as the pod printer makes them', async (t) => {
  const running = { kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'a' }, { name: 'b' }] }, status: { phase: 'Running', containerStatuses: [{ ready: true, restartCount: 2, state: { running: {} } }, { ready: false, restartCount: 1, state: { waiting: { reason: 'CrashLoopBackOff' } } }] } }
  t.same(toTable(running, 'v1').rows[0].cells.slice(0, 4), ['p', '1/2', 'CrashLoopBackOff', 3])
  const gone = { ...running, metadata: { name: 'p', deletionTimestamp: '2026-01-01T00:00:00Z' } }
  t.equal(toTable(gone, 'v1').rows[0].cells[2], 'Terminating')
  t.equal(toTable({ kind: 'Pod', metadata: { name: 'q' }, spec: { containers: [{ name: 'a' }] } }, 'v1').rows[0].cells[2], 'Pending')
})

t.test('configmap rows: DATA counts data and binaryData keys, as the configmap printer does', async (t) => {
  const cm = { kind: 'ConfigMap', metadata: { name: 'kubeadm-config', creationTimestamp: new Date(Date.now() - 5_000).toISOString() }, data: { ClusterConfiguration: 'x', ClusterStatus: 'y' }, binaryData: { b: 'AA==' } }
  const table = toTable({ kind: 'ConfigMapList', metadata: { resourceVersion: '9' }, items: [cm, { kind: 'ConfigMap', metadata: { name: 'empty' } }] }, 'v1')
  t.same(table.columnDefinitions.map((c: any) => c.name), ['Name', 'Data', 'Age'])
  t.same(table.rows[0].cells, ['kubeadm-config', 3, '5s'])
  t.same(table.rows[1].cells, ['empty', 0, '<unknown>'])
})
