import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { redactJson, redactText, REDACTED } from '../../src/diagnose/redact.ts'

const KEY = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIGx1c2VjcmV0a2V5bWF0ZXJpYWxoZXJlMTIzNDU2Nzg5MGFiY2RlZg==\n-----END EC PRIVATE KEY-----'

t.test('private keys, in files and inside JSON strings', async (t) => {
  const r = redactText(`before\n${KEY}\nafter`)
  t.notMatch(r.value, /MHcCAQEE/)
  t.match(r.value, /BEGIN EC PRIVATE KEY----- \[REDACTED\]/)
  t.equal(r.count, 1)
  const inJson = JSON.stringify({ Env: [`KEY=${KEY}`] })
  t.notMatch(redactText(inJson).value, /MHcCAQEE/)
})

t.test('tokens and passwords in flags, env and logs; file paths stay', async (t) => {
  const argv = '--token=abcdef0123456789 --etcd-password hunter2hunter2 --tls-private-key-file=/etc/kubernetes/ssl/kube-apiserver-key.pem --token-auth-file=/etc/k/tokens.csv'
  const r = redactText(argv).value
  t.notMatch(r, /abcdef0123456789|hunter2/)
  t.match(r, /--tls-private-key-file=\/etc\/kubernetes\/ssl\/kube-apiserver-key.pem/)
  t.match(r, /--token-auth-file=\/etc\/k\/tokens.csv/)
  t.notMatch(redactText('"Env":["DB_PASSWORD=s3cr3t-value","PATH=/usr/bin"]').value, /s3cr3t/)
  t.match(redactText('"Env":["DB_PASSWORD=s3cr3t-value","PATH=/usr/bin"]').value, /PATH=\/usr\/bin/)
  t.notMatch(redactText('Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJlc2lnbmF0dXJl').value, /eyJ/)
  t.notMatch(redactText('AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ').value, /QQQQ/)
})

t.test('JSON: Secret data, env entries by name, kubeconfig fields', async (t) => {
  const secret = { kind: 'Secret', metadata: { name: 'db' }, data: { password: 'aHVudGVyMg==' } }
  const pod = { kind: 'Pod', spec: { containers: [{ env: [{ name: 'API_TOKEN', value: 'tok-123456' }, { name: 'MODE', value: 'prod' }] }] } }
  const kc = { users: [{ user: { 'client-key-data': 'LS0tLS1CRUdJTg==', 'client-certificate-data': 'cert' } }] }
  const r = redactJson([secret, pod, kc])
  const s = JSON.stringify(r.value)
  t.notMatch(s, /aHVudGVyMg|tok-123456|LS0tLS1CRUdJTg/)
  t.match(s, /"MODE","value":"prod"/)
  t.match(s, /"client-certificate-data":"cert"/)
  t.equal(r.count, 3)
  t.equal(secret.data.password, 'aHVudGVyMg==', 'the input is not changed')
  const applied = { kind: 'Pod', metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify(secret) } } }
  t.notMatch(JSON.stringify(redactJson(applied).value), /aHVudGVyMg/, 'a Secret inside an annotation')
})

t.test('a recorded docker inspect of kube-apiserver keeps its flags readable', async (t) => {
  const f = path.join(import.meta.dirname, '../fixtures/docker-20.10.24/inspect-kube-apiserver.json')
  const text = fs.readFileSync(f, 'utf8')
  const r = redactText(text)
  t.match(r.value, /--etcd-servers=/)
  t.equal(r.value.includes(REDACTED), /PRIVATE KEY|token=|password/i.test(text), 'redacts only when something sensitive is there')
})
