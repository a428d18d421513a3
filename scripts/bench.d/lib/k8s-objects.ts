// Kubernetes-shaped etcd contents for the backup bench (DR_BENCH_DATA=k8s): the compression figures of hex text
// say little about a real snapshot, and the lab's apiserver is a stand-in that stores JSON. kube-apiserver stores
// built-in objects as protobuf ("k8s\0" + a runtime.Unknown: type meta, then the object), and custom resources as
// JSON, so this writes both: pods (with managedFields, whose FieldsV1 are JSON inside the protobuf), events,
// leases renewed many times (etcd keeps every revision until compaction), endpoints, config maps, TLS secrets
// (random bytes: incompressible, as real keys are) and custom resources in JSON.
import { randomBytes, randomUUID } from 'node:crypto'

type Value = string | number | boolean | Value[] | { [k: string]: Value }

function varint(n: number): number[] {
  const out: number[] = []
  while (n > 127) {
    out.push((n & 127) | 128)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return out
}

/** The protobuf wire format of an object whose field numbers are its keys' positions (what go-proto writes). */
function proto(o: { [k: string]: Value }): Buffer {
  const parts: Buffer[] = []
  let field = 0
  for (const v of Object.values(o)) {
    field++
    for (const item of Array.isArray(v) ? v : [v]) {
      if (typeof item === 'number' || typeof item === 'boolean') {
        parts.push(Buffer.from([...varint(field << 3), ...varint(Number(item))]))
      } else {
        const body = typeof item === 'string' ? Buffer.from(item) : proto(item as { [k: string]: Value })
        parts.push(Buffer.from([...varint((field << 3) | 2), ...varint(body.length)]), body)
      }
    }
  }
  return Buffer.concat(parts)
}

const k8s = (apiVersion: string, kind: string, obj: { [k: string]: Value }) =>
  Buffer.concat([Buffer.from('k8s\0'), proto({ typeMeta: { apiVersion, kind }, raw: proto(obj).toString('latin1'), contentEncoding: '', contentType: '' })])

const hex = (n: number) => randomBytes(Math.ceil(n / 2)).toString('hex').slice(0, n)
const ts = (agoS: number) => new Date(Date.now() - agoS * 1000).toISOString().replace(/\.\d+Z$/, 'Z')
const ip = () => `10.42.${randomBytes(1)[0]}.${randomBytes(1)[0]}`

function meta(name: string, ns: string, labels: { [k: string]: string }, extra: { [k: string]: Value } = {}) {
  return { name, generateName: '', namespace: ns, selfLink: '', uid: randomUUID(), resourceVersion: '', generation: 1, creationTimestamp: { seconds: Math.floor(Date.now() / 1000) }, labels: Object.entries(labels).map(([key, value]) => ({ key, value })), ...extra }
}

function pod(i: number): [string, Buffer] {
  const app = `app-${i % 80}`
  const ns = `team-${i % 12}`
  const name = `${app}-${hex(10)}-${hex(5)}`
  const labels = { app, 'pod-template-hash': hex(10), 'app.kubernetes.io/part-of': `product-${i % 7}` }
  const managed = JSON.stringify({ 'f:metadata': { 'f:labels': Object.fromEntries(Object.keys(labels).map((k) => [`f:${k}`, {}])), 'f:ownerReferences': { [`k:{"uid":"${randomUUID()}"}`]: {} } }, 'f:spec': { 'f:containers': { [`k:{"name":"${app}"}`]: { '.': {}, 'f:env': {}, 'f:image': {}, 'f:ports': {}, 'f:resources': { 'f:limits': {}, 'f:requests': {} } } } } })
  const container = (cname: string, image: string) => ({
    name: cname,
    image,
    command: ['/bin/server'],
    args: ['--port=8080', `--config=/etc/${app}/config.yaml`, '--log-format=json'],
    ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }, { name: 'metrics', containerPort: 9090, protocol: 'TCP' }],
    env: Array.from({ length: 6 }, (_, k) => ({ name: `${app.toUpperCase().replace('-', '_')}_SETTING_${k}`, value: k % 2 ? `https://${app}.${ns}.svc.cluster.local:8080/v${k}` : String(k * 100) })),
    resources: { limits: [{ key: 'cpu', value: '1' }, { key: 'memory', value: '512Mi' }], requests: [{ key: 'cpu', value: '100m' }, { key: 'memory', value: '128Mi' }] },
    volumeMounts: [{ name: 'config', mountPath: `/etc/${app}`, readOnly: true }, { name: `kube-api-access-${hex(5)}`, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
    terminationMessagePath: '/dev/termination-log',
    imagePullPolicy: 'IfNotPresent',
  })
  const obj = {
    metadata: meta(name, ns, labels, {
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${app}-${hex(10)}`, uid: randomUUID(), controller: true }],
      managedFields: [{ manager: 'kube-controller-manager', operation: 'Update', apiVersion: 'v1', time: ts(i), fieldsType: 'FieldsV1', fieldsV1: managed }],
    }),
    spec: {
      volumes: [{ name: 'config', configMap: `${app}-config` }],
      containers: [container(app, `registry.example.com/${ns}/${app}:v1.${i % 23}.${i % 7}`), container('envoy', 'envoyproxy/envoy:v1.28.0')],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: app,
      nodeName: `worker-${i % 40}`,
      tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }],
    },
    status: { phase: 'Running', conditions: ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({ type, status: 'True', lastTransitionTime: ts(i * 7) })), hostIP: ip(), podIP: ip(), startTime: ts(i * 9), containerStatuses: [{ name: app, ready: true, restartCount: i % 3, image: `registry.example.com/${ns}/${app}:v1.${i % 23}.${i % 7}`, imageID: `registry.example.com/${ns}/${app}@sha256:${hex(64)}`, containerID: `containerd://${hex(64)}`, started: true }] },
  }
  return [`/registry/pods/${ns}/${name}`, k8s('v1', 'Pod', obj)]
}

function event(i: number): [string, Buffer] {
  const app = `app-${i % 80}`
  const ns = `team-${i % 12}`
  const [reason, message] = [
    ['Pulled', `Container image "registry.example.com/${ns}/${app}:v1.${i % 23}.0" already present on machine`],
    ['Unhealthy', `Readiness probe failed: Get "http://${ip()}:8080/healthz": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`],
    ['BackOff', 'Back-off restarting failed container'],
    ['Scheduled', `Successfully assigned ${ns}/${app}-${hex(10)}-${hex(5)} to worker-${i % 40}`],
  ][i % 4]
  const name = `${app}-${hex(10)}-${hex(5)}.${hex(16)}`
  const obj = { metadata: meta(name, ns, {}), involvedObject: { kind: 'Pod', namespace: ns, name: `${app}-${hex(10)}-${hex(5)}`, uid: randomUUID(), apiVersion: 'v1', resourceVersion: String(1_000_000 + i), fieldPath: `spec.containers{${app}}` }, reason, message, source: { component: 'kubelet', host: `worker-${i % 40}` }, firstTimestamp: ts(i * 3), lastTimestamp: ts(i), count: 1 + (i % 9), type: i % 4 === 1 ? 'Warning' : 'Normal', reportingComponent: 'kubelet', reportingInstance: `worker-${i % 40}` }
  return [`/registry/events/${ns}/${name}`, k8s('v1', 'Event', obj)]
}

/** Renewed every 10 s by every node and controller: most of a live database's revisions. */
function lease(i: number): [string, Buffer] {
  const holder = `worker-${i % 40}`
  const obj = { metadata: meta(holder, 'kube-node-lease', {}, { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: holder, uid: randomUUID() }] }), spec: { holderIdentity: holder, leaseDurationSeconds: 40, renewTime: ts(0) + `.${hex(6)}` } }
  return [`/registry/leases/kube-node-lease/${holder}`, k8s('coordination.k8s.io/v1', 'Lease', obj)]
}

function configMap(i: number): [string, Buffer] {
  const app = `app-${i % 80}`
  const ns = `team-${i % 12}`
  const yaml = Array.from({ length: 60 }, (_, k) => `  ${app}.feature_${k}: ${k % 4 ? 'enabled' : hex(24)}`).join('\n')
  return [`/registry/configmaps/${ns}/${app}-config-${i}`, k8s('v1', 'ConfigMap', { metadata: meta(`${app}-config-${i}`, ns, { app }), data: [{ key: 'config.yaml', value: `server:\n  port: 8080\nfeatures:\n${yaml}\n` }] })]
}

function secret(i: number): [string, Buffer] {
  const ns = `team-${i % 12}`
  const name = `app-${i % 80}-tls-${i}`
  // Encrypted at rest on most clusters ("k8s:enc:aescbc:v1:key1:" + ciphertext): random bytes either way.
  return [`/registry/secrets/${ns}/${name}`, Buffer.concat([Buffer.from('k8s:enc:aescbc:v1:key1:'), randomBytes(3000 + (i % 2000))])]
}

/** A custom resource (say a cert-manager Certificate): stored as JSON, as every CRD object is. */
function customResource(i: number): [string, Buffer] {
  const ns = `team-${i % 12}`
  const name = `app-${i % 80}-cert-${i}`
  const obj = { apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name, namespace: ns, uid: randomUUID(), generation: 1, creationTimestamp: ts(i * 50), managedFields: [{ manager: 'cert-manager-certificates-issuing', operation: 'Update', apiVersion: 'cert-manager.io/v1', time: ts(i), fieldsType: 'FieldsV1', fieldsV1: { 'f:status': { 'f:conditions': {}, 'f:notAfter': {}, 'f:notBefore': {}, 'f:renewalTime': {}, 'f:revision': {} } } }] }, spec: { secretName: `app-${i % 80}-tls-${i}`, dnsNames: [`app-${i % 80}.${ns}.svc`, `app-${i % 80}.example.com`], issuerRef: { name: 'letsencrypt-prod', kind: 'ClusterIssuer' } }, status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'Certificate is up to date and has not expired', lastTransitionTime: ts(i * 20) }], notAfter: ts(-86400 * 60), notBefore: ts(86400 * 30), renewalTime: ts(-86400 * 30), revision: 1 + (i % 5) } }
  return [`/registry/cert-manager.io/certificates/${ns}/${name}`, Buffer.from(JSON.stringify(obj))]
}

/** The next ~100 writes of a cluster's life, in the proportions above (leases rewritten, the rest new keys). */
export function k8sWrites(round: number): Array<[string, Buffer]> {
  const out = new Map<string, Buffer>() // a transaction may not write a key twice
  for (let k = 0; k < 100; k++) {
    const i = round * 100 + k
    const pick = k % 20
    out.set(...(pick < 5 ? pod(i) : pick < 9 ? event(i) : pick < 15 ? lease(i) : pick < 17 ? configMap(i) : pick < 18 ? secret(i) : customResource(i)))
  }
  return [...out]
}
