// The lab's kube-apiserver stand-in (a test fixture, src/lab/fixture/kube-apiserver-standin.mjs) serves ConfigMaps
// as the real API does: create, get, list, update, patch and delete through @kubernetes/client-node (dr's own
// client) and real kubectl 1.20, stored in a real etcd (TLS, client certificates) under the real key
// /registry/configmaps/<namespace>/<name>, with the real API's answers for a stale resourceVersion (409 Conflict),
// a second create (409 AlreadyExists), a missing object or namespace (404), an invalid key (422) and a failed
// delete precondition (409).
import t from 'tap'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type V1ConfigMap } from '@kubernetes/client-node'
import { freePort, startEtcd, type EtcdCluster } from '../helpers/etcd.ts'
import { ROOT } from '../helpers/dr.ts'

const run = promisify(execFile)
const STANDIN = path.join(ROOT, 'src/lab/fixture/kube-apiserver-standin.mjs')
// scripts/lib/ensure.sh installs Debian's kubernetes-client (1.20), or unpacks it here where another package owns /usr/bin/kubectl.
const unpacked = path.join(ROOT, '.lab-cache/kubernetes-client/usr/bin/kubectl')
const KUBECTL = process.env.DR_KUBECTL ?? (fs.existsSync(unpacked) ? unpacked : 'kubectl')

let etcd: EtcdCluster
let standin: ChildProcess
let api: CoreV1Api
let kubeconfig = ''
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-standin-cm-'))

const stored = async (key: string) => {
  const { stdout } = await run('etcdctl', [...etcd.etcdctlArgs(), 'get', key, '-w', 'json'], { env: etcd.env() })
  const kv = (JSON.parse(stdout) as { kvs?: Array<{ value: string; mod_revision: number }> }).kvs?.[0]
  return kv ? { object: JSON.parse(Buffer.from(kv.value, 'base64').toString('utf8')), modRevision: String(kv.mod_revision) } : null
}
/** The API's answer to a failed call: its HTTP code and the Status object in its body. */
async function refused(p: Promise<unknown>): Promise<{ code: number; status: { reason?: string; message?: string; details?: unknown } }> {
  try {
    await p
  } catch (e) {
    const err = e as { code?: number; body?: string }
    return { code: err.code ?? 0, status: JSON.parse(err.body ?? '{}') }
  }
  throw new Error('the call succeeded')
}
async function kubectl(args: string[]) {
  try {
    const r = await run(KUBECTL, ['--kubeconfig', kubeconfig, '--request-timeout=20s', ...args], { env: { ...process.env, HOME: home }, timeout: 60_000 })
    return { code: 0, ...r }
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string }
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? String(e) }
  }
}

t.before(async () => {
  etcd = await startEtcd({ tls: true })
  const pki = path.dirname(etcd.tls!.caFile)
  const port = await freePort()
  standin = spawn(process.execPath, [
    STANDIN,
    `--etcd-servers=${etcd.endpoints.join(',')}`,
    `--etcd-cafile=${etcd.tls!.caFile}`, `--etcd-certfile=${etcd.tls!.certFile}`, `--etcd-keyfile=${etcd.tls!.keyFile}`,
    `--tls-cert-file=${path.join(pki, 'server.pem')}`, `--tls-private-key-file=${path.join(pki, 'server-key.pem')}`,
    `--client-ca-file=${etcd.tls!.caFile}`, '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', `--secure-port=${port}`,
  ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DR_LAB_K8S_VERSION: '1.20.5' } })
  const b64 = (f: string) => fs.readFileSync(f).toString('base64')
  kubeconfig = path.join(home, 'kubeconfig')
  fs.writeFileSync(kubeconfig, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'lab',
    clusters: [{ name: 'lab', cluster: { server: `https://127.0.0.1:${port}`, 'certificate-authority-data': b64(etcd.tls!.caFile) } }],
    users: [{ name: 'admin', user: { 'client-certificate-data': b64(etcd.tls!.certFile), 'client-key-data': b64(etcd.tls!.keyFile) } }],
    contexts: [{ name: 'lab', context: { cluster: 'lab', user: 'admin' } }],
  }))
  const kc = new KubeConfig()
  kc.loadFromFile(kubeconfig)
  api = kc.makeApiClient(CoreV1Api)
  for (let i = 0; ; i++) {
    const ok = await api.listNamespace().then(() => true, () => false)
    if (ok) break
    if (i > 100) throw new Error('the stand-in did not answer within 10 s')
    await new Promise((r) => setTimeout(r, 100))
  }
})
t.teardown(async () => {
  standin?.kill('SIGTERM')
  await etcd?.stop()
  fs.rmSync(home, { recursive: true, force: true })
})

const kubeadmConfig = (): V1ConfigMap => ({
  metadata: { name: 'kubeadm-config', namespace: 'kube-system' },
  data: { ClusterConfiguration: 'kind: ClusterConfiguration\n', ClusterStatus: 'apiEndpoints:\n  master1:\n    advertiseAddress: 10.0.0.11\n    bindPort: 6443\nkind: ClusterStatus\n' },
})

t.test('create, get, list: stored under /registry/configmaps/<ns>/<name>, resourceVersion the key\'s mod revision', async (t) => {
  const made = await api.createNamespacedConfigMap({ namespace: 'kube-system', body: kubeadmConfig() })
  t.match(made, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kubeadm-config', namespace: 'kube-system' } })
  t.ok(made.metadata?.uid && made.metadata.creationTimestamp, 'uid and creationTimestamp set by the server')
  const s = await stored('/registry/configmaps/kube-system/kubeadm-config')
  t.ok(s, 'in etcd under the real key')
  t.same(s!.object.data, kubeadmConfig().data)
  t.equal(made.metadata?.resourceVersion, s!.modRevision)
  t.notOk('spec' in s!.object || 'status' in s!.object, 'a ConfigMap has neither spec nor status')

  const got = await api.readNamespacedConfigMap({ name: 'kubeadm-config', namespace: 'kube-system' })
  t.same(got.data, kubeadmConfig().data)
  const list = await api.listNamespacedConfigMap({ namespace: 'kube-system' })
  t.same(list.items.map((c) => c.metadata?.name), ['kubeadm-config'])
  t.ok(Number(list.metadata?.resourceVersion) >= Number(s!.modRevision), "the list's resourceVersion is etcd's revision")
  await api.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'other', labels: { app: 'x' } }, data: { a: '1' } } })
  t.same((await api.listConfigMapForAllNamespaces()).items.map((c) => `${c.metadata?.namespace}/${c.metadata?.name}`).sort(), ['default/other', 'kube-system/kubeadm-config'])
  t.same((await api.listConfigMapForAllNamespaces({ labelSelector: 'app=x' })).items.map((c) => c.metadata?.name), ['other'])
  t.same((await api.listNamespacedConfigMap({ namespace: 'default', fieldSelector: 'metadata.name=nope' })).items, [])
})

t.test('the errors the real API returns', async (t) => {
  const again = await refused(api.createNamespacedConfigMap({ namespace: 'kube-system', body: kubeadmConfig() }))
  t.match(again, { code: 409, status: { reason: 'AlreadyExists', message: 'configmaps "kubeadm-config" already exists', details: { name: 'kubeadm-config', kind: 'configmaps' } } })
  const missing = await refused(api.readNamespacedConfigMap({ name: 'nope', namespace: 'kube-system' }))
  t.match(missing, { code: 404, status: { reason: 'NotFound', message: 'configmaps "nope" not found' } })
  const nons = await refused(api.createNamespacedConfigMap({ namespace: 'nowhere', body: { metadata: { name: 'x' } } }))
  t.match(nons, { code: 404, status: { reason: 'NotFound', message: 'namespaces "nowhere" not found' } })
  const bad = await refused(api.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'bad' }, data: { 'no spaces': 'x' } } }))
  t.match(bad, { code: 422, status: { reason: 'Invalid', message: /a valid config key must consist of alphanumeric characters/ } })
  const cur = await api.readNamespacedConfigMap({ name: 'kubeadm-config', namespace: 'kube-system' })
  const renamed = await refused(api.replaceNamespacedConfigMap({ name: 'kubeadm-config', namespace: 'kube-system', body: { ...cur, metadata: { ...cur.metadata, name: 'other-name' } } }))
  t.match(renamed, { code: 400, status: { reason: 'BadRequest', message: 'the name of the object (other-name) does not match the name on the URL (kubeadm-config)' } })
})

t.test('update: with the current resourceVersion it lands; with a stale one it is refused with 409 Conflict and nothing changes', async (t) => {
  const cur = await api.readNamespacedConfigMap({ name: 'kubeadm-config', namespace: 'kube-system' })
  const next = await api.replaceNamespacedConfigMap({ name: 'kubeadm-config', namespace: 'kube-system', body: { ...cur, data: { ...cur.data, extra: 'one' } } })
  t.not(next.metadata?.resourceVersion, cur.metadata?.resourceVersion, 'a new resourceVersion')
  t.equal(next.metadata?.uid, cur.metadata?.uid, 'the same object')
  t.equal((await stored('/registry/configmaps/kube-system/kubeadm-config'))!.object.data.extra, 'one')

  // A writer that read before that update (kubeadm join, say) is refused, not silently overwritten.
  const stale = await refused(api.replaceNamespacedConfigMap({ name: 'kubeadm-config', namespace: 'kube-system', body: { ...cur, data: { ...cur.data, extra: 'two' } } }))
  t.match(stale, {
    code: 409,
    status: { reason: 'Conflict', message: 'Operation cannot be fulfilled on configmaps "kubeadm-config": the object has been modified; please apply your changes to the latest version and try again', details: { name: 'kubeadm-config', kind: 'configmaps' } },
  })
  const after = await stored('/registry/configmaps/kube-system/kubeadm-config')
  t.equal(after!.object.data.extra, 'one', 'the stale write changed nothing')
  t.equal(after!.modRevision, next.metadata?.resourceVersion)

  // Without a resourceVersion an update is unconditional (ConfigMaps allow it); namespace and uid stay the server's.
  const { resourceVersion: _rv, ...meta } = next.metadata!
  const blind = await api.replaceNamespacedConfigMap({ name: 'kubeadm-config', namespace: 'kube-system', body: { metadata: { name: meta.name }, data: { ...next.data, extra: 'three' } } })
  t.match(blind.metadata, { namespace: 'kube-system', uid: cur.metadata?.uid, creationTimestamp: cur.metadata?.creationTimestamp })
  t.equal((await stored('/registry/configmaps/kube-system/kubeadm-config'))!.object.metadata.namespace, 'kube-system')
})

t.test('patch: JSON patch, merge patch, strategic merge patch; a patch naming a stale resourceVersion conflicts', async (t) => {
  const name = 'kubeadm-config', namespace = 'kube-system'
  await api.patchNamespacedConfigMap({ name, namespace, body: [{ op: 'replace', path: '/data/extra', value: 'json' }] })
  t.equal((await api.readNamespacedConfigMap({ name, namespace })).data?.extra, 'json')
  await api.patchNamespacedConfigMap({ name, namespace, body: { data: { extra: null, merged: 'yes' } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))
  const merged = await api.readNamespacedConfigMap({ name, namespace })
  t.same(Object.keys(merged.data ?? {}).sort(), ['ClusterConfiguration', 'ClusterStatus', 'merged'], 'null removes a key, others kept')
  await api.patchNamespacedConfigMap({ name, namespace, body: { data: { strategic: 'yes' } } }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch))
  t.equal((await api.readNamespacedConfigMap({ name, namespace })).data?.strategic, 'yes')
  const stale = await refused(api.patchNamespacedConfigMap({ name, namespace, body: { metadata: { resourceVersion: merged.metadata?.resourceVersion }, data: { late: 'x' } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)))
  t.match(stale, { code: 409, status: { reason: 'Conflict' } })
})

t.test('delete: a stale precondition is refused, then the object is gone from etcd', async (t) => {
  const cur = await api.readNamespacedConfigMap({ name: 'other', namespace: 'default' })
  const pre = await refused(api.deleteNamespacedConfigMap({ name: 'other', namespace: 'default', body: { preconditions: { resourceVersion: '1' } } }))
  t.match(pre, { code: 409, status: { reason: 'Conflict', message: `Precondition failed: ResourceVersion in precondition: 1, ResourceVersion in object meta: ${cur.metadata?.resourceVersion}` } })
  const gone = await api.deleteNamespacedConfigMap({ name: 'other', namespace: 'default' })
  t.match(gone, { kind: 'Status', status: 'Success', details: { name: 'other', kind: 'configmaps', uid: cur.metadata?.uid } })
  t.equal(await stored('/registry/configmaps/default/other'), null)
})

t.test("real kubectl 1.20: get cm with the usual columns, -o jsonpath, create, a stale replace refused, delete", async (t) => {
  const get = await kubectl(['get', 'cm', '-n', 'kube-system'])
  t.equal(get.code, 0, get.stderr)
  const rows = get.stdout.trim().split('\n').map((l) => l.trim().split(/\s{2,}/))
  t.same(rows[0], ['NAME', 'DATA', 'AGE'])
  t.match(rows[1], ['kubeadm-config', '4', /^\d+s$/])
  const all = await kubectl(['get', 'configmaps', '-A'])
  t.match(all.stdout, /^NAMESPACE\s+NAME\s+DATA\s+AGE\nkube-system\s+kubeadm-config\s+4\s/)
  const status = await kubectl(['get', 'cm', 'kubeadm-config', '-n', 'kube-system', '-o', 'jsonpath={.data.ClusterStatus}'])
  t.match(status.stdout, /^apiEndpoints:\n {2}master1:\n {4}advertiseAddress: 10\.0\.0\.11/)

  const made = await kubectl(['create', 'configmap', 'practice', '-n', 'default', '--from-literal=k=v'])
  t.match(made.stdout, /configmap\/practice created/, made.stderr)
  const yaml = (await kubectl(['get', 'cm', 'practice', '-n', 'default', '-o', 'json'])).stdout
  const obj = JSON.parse(yaml)
  await api.patchNamespacedConfigMap({ name: 'practice', namespace: 'default', body: [{ op: 'add', path: '/data/k', value: 'changed' }] })
  const file = path.join(home, 'practice.json')
  fs.writeFileSync(file, JSON.stringify({ ...obj, data: { k: 'mine' } }))
  // The stand-in serves no OpenAPI document, which kubectl's client-side validation of a file reads.
  const replaced = await kubectl(['replace', '--validate=false', '-f', file])
  t.not(replaced.code, 0, 'kubectl replace with the resourceVersion it read before a change is refused')
  t.match(replaced.stderr, /Operation cannot be fulfilled on configmaps "practice": the object has been modified/)
  t.equal((await stored('/registry/configmaps/default/practice'))!.object.data.k, 'changed')
  const del = await kubectl(['delete', 'cm', 'practice', '-n', 'default'])
  t.match(del.stdout, /configmap "practice" deleted/, del.stderr)
  t.equal(await stored('/registry/configmaps/default/practice'), null)
})
