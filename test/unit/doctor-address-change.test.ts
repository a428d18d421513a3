import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { addressEdits, argvCarries, parseSans, quorumWithoutMoved, replaceAddress, sansMoved, urlsAfterMoves } from '../../src/doctor/address-change.ts'
import { editArgs } from '../../src/container/recreate.ts'
import { processArgv, type ContainerInspect } from '../../src/container/inspect.ts'
import { editManifestFlags, manifestArgv, parseManifest, renderManifest } from '../../src/component/manifest.ts'
import { certPlans, etcdServersAfter } from '../../runbooks/doctor/address-change.ts'
import { freeAddress, inventoryWithAddress, knownHostsMoved } from '../../src/lab/fault-address-change.ts'

const fixtures = path.join(import.meta.dirname, '../fixtures')
const rkeEtcd = (() => {
  const j = JSON.parse(fs.readFileSync(path.join(fixtures, 'docker-20.10.24/inspect-etcd.json'), 'utf8'))
  return processArgv((Array.isArray(j) ? j[0] : j) as ContainerInspect)
})()

t.test('an address is replaced whole, dotted or dashed, never inside a longer one', async (t) => {
  const r = (w: string) => replaceAddress(w, '10.0.0.1', '10.0.9.77')
  t.equal(r('https://10.0.0.1:2380'), 'https://10.0.9.77:2380')
  t.equal(r('/etc/kubernetes/ssl/kube-etcd-10-0-0-1-key.pem'), '/etc/kubernetes/ssl/kube-etcd-10-0-9-77-key.pem', "RKE's file names")
  t.equal(r('https://10.0.0.11:2380,https://110.0.0.1:2380,https://10.0.0.1.5'), 'https://10.0.0.11:2380,https://110.0.0.1:2380,https://10.0.0.1.5', 'longer addresses untouched')
  t.equal(r('kube-etcd-10-0-0-11.pem 9-10-0-0-1'), 'kube-etcd-10-0-0-11.pem 9-10-0-0-1', 'longer dashed addresses untouched')
  t.equal(r('a=https://10.0.0.1:2380,b=https://10.0.0.2:2380,c=https://10.0.0.1:2380'), 'a=https://10.0.9.77:2380,b=https://10.0.0.2:2380,c=https://10.0.9.77:2380', 'every occurrence')
})

t.test("RKE's etcd (recorded inspect): every flag that carries the old address, and nothing else", async (t) => {
  const edits = addressEdits(rkeEtcd, '192.168.31.103', '192.168.40.7')
  t.same(Object.keys(edits).sort(), ['--advertise-client-urls', '--cert-file', '--initial-advertise-peer-urls', '--initial-cluster', '--key-file', '--peer-cert-file', '--peer-key-file'])
  t.equal(edits['--initial-cluster'], 'etcd-master1=https://192.168.31.101:2380,etcd-master2=https://192.168.31.102:2380,etcd-master3=https://192.168.40.7:2380')
  t.equal(edits['--cert-file'], '/etc/kubernetes/ssl/kube-etcd-192-168-40-7.pem')
  const after = [rkeEtcd[0], ...editArgs(rkeEtcd.slice(1), { setArgs: edits })]
  t.ok(argvCarries(rkeEtcd, '192.168.31.103'))
  t.notOk(argvCarries(after, '192.168.31.103'), 'no old address left')
  t.equal(after.length, rkeEtcd.length, 'no word added or lost')
  t.same(addressEdits(after, '192.168.31.103', '192.168.40.7'), {}, 'a second pass finds nothing: the fix is idempotent')
  t.same(addressEdits(rkeEtcd, '192.168.31.10', '192.168.40.7'), {}, 'a prefix of an address is not the address')
})

t.test("kubeadm's etcd manifest: listen and advertise URLs, file paths unchanged", async (t) => {
  const m = parseManifest(fs.readFileSync(path.join(fixtures, 'kubeadm-1.20/etcd.yaml'), 'utf8'), 'etcd.yaml', 'etcd')
  const edits = addressEdits(manifestArgv(m), '10.0.0.12', '10.0.5.3')
  t.same(edits, {
    '--advertise-client-urls': 'https://10.0.5.3:2379',
    '--initial-advertise-peer-urls': 'https://10.0.5.3:2380',
    '--initial-cluster': 'master1=https://10.0.0.11:2380,master2=https://10.0.5.3:2380',
    '--listen-client-urls': 'https://127.0.0.1:2379,https://10.0.5.3:2379',
    '--listen-peer-urls': 'https://10.0.5.3:2380',
  })
  t.ok(editManifestFlags(m, { setArgs: edits }))
  t.notOk(argvCarries(manifestArgv(m), '10.0.0.12'), 'the command carries the new address only')
  t.match(renderManifest(m), 'kubeadm.kubernetes.io/etcd.advertise-client-urls: https://10.0.0.12:2379', 'annotations are not flags: left as they were')
})

t.test("the certificate's new names, and where it goes", async (t) => {
  const sans = parseSans('IP Address:192.168.31.103, IP Address:127.0.0.1, DNS:localhost, DNS:master3')
  t.same(sans, { ips: ['192.168.31.103', '127.0.0.1'], dns: ['localhost', 'master3'] })
  t.equal(sansMoved(sans, '192.168.31.103', '192.168.40.7'), 'IP:192.168.40.7,IP:127.0.0.1,DNS:localhost,DNS:master3')
  t.equal(sansMoved({ ips: ['127.0.0.1'], dns: [] }, '10.0.0.1', '10.0.0.2'), 'IP:127.0.0.1,IP:10.0.0.2', 'added when the old address was not there')
  t.same(certPlans(rkeEtcd, { from: '192.168.31.103', to: '192.168.40.7' }, '/ca.pem'), [{
    cert: '/etc/kubernetes/ssl/kube-etcd-192-168-31-103.pem', key: '/etc/kubernetes/ssl/kube-etcd-192-168-31-103-key.pem', ca: '/etc/kubernetes/ssl/kube-ca.pem',
    target: '/etc/kubernetes/ssl/kube-etcd-192-168-40-7.pem', targetKey: '/etc/kubernetes/ssl/kube-etcd-192-168-40-7-key.pem',
  }], 'RKE: one file for serving and peer, named after the new address')
  const m = parseManifest(fs.readFileSync(path.join(fixtures, 'kubeadm-1.20/etcd.yaml'), 'utf8'), 'etcd.yaml', 'etcd')
  t.same(certPlans(manifestArgv(m), { from: '10.0.0.12', to: '10.0.5.3' }, '/ca').map((p) => [p.cert, p.target]), [
    ['/etc/kubernetes/pki/etcd/server.crt', '/etc/kubernetes/pki/etcd/server.crt'],
    ['/etc/kubernetes/pki/etcd/peer.crt', '/etc/kubernetes/pki/etcd/peer.crt'],
  ], 'kubeadm: serving and peer certificates, in place')
})

t.test('quorum is counted over the whole membership, without the moved members', async (t) => {
  const ids = ['a', 'b', 'c']
  const all = [{ id: 'a', healthy: true }, { id: 'b', healthy: true }, { id: 'c', healthy: true }]
  t.same(quorumWithoutMoved(ids, all, ['a']), { ok: true, healthy: 2, needed: 2, total: 3 })
  t.equal(quorumWithoutMoved(ids, [{ id: 'a', healthy: true }, { id: 'b', healthy: true }, { id: 'c', healthy: false }], ['a']).ok, false, 'a moved member that still answers is not counted')
  t.equal(quorumWithoutMoved(ids, all, ['a', 'b']).ok, false, 'two moved of three: no')
  t.equal(quorumWithoutMoved(['a', 'b', 'c', 'd', 'e'], ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id, healthy: true })), ['a', 'b']).ok, true, 'two moved of five: yes')
  t.equal(quorumWithoutMoved([], [], ['a']).ok, false, 'no member list: no')
  t.same(urlsAfterMoves(['https://10.0.0.1:2379', 'https://10.0.0.2:2379'], [{ from: '10.0.0.1', to: '10.0.0.9' }]), ['https://10.0.0.9:2379', 'https://10.0.0.2:2379'])
})

t.test("the lab fault's files: inventory, known_hosts, a free address", async (t) => {
  const inv = '# The dr lab "x"\nhosts:\n  master1:\n    address: 172.30.5.11 # old\n  master2:\n    address: 172.30.5.12\n'
  const out = inventoryWithAddress(inv, 'master1', '172.30.5.200')
  t.match(out, /^# The dr lab "x"/, 'the header stays')
  t.match(out, /master1:\n {4}address: 172\.30\.5\.200/)
  t.match(out, /master2:\n {4}address: 172\.30\.5\.12/)
  t.throws(() => inventoryWithAddress(inv, 'nope', '1.2.3.4'), /no hosts\.nope\.address/)
  t.equal(knownHostsMoved('172.30.5.11 ssh-ed25519 AAA\n172.30.5.111 ssh-ed25519 BBB\n', '172.30.5.11', '172.30.5.200'), '172.30.5.200 ssh-ed25519 AAA\n172.30.5.111 ssh-ed25519 BBB\n')
  t.equal(freeAddress({ subnet: '172.30.5.0/24', gateway: '172.30.5.1' }, ['172.30.5.200', '172.30.5.201']), '172.30.5.202')
})

t.test('the apiservers are never given an empty --etcd-servers', async (t) => {
  const member = (name: string, ip: string) => ({ id: name, name, peerURLs: [`https://${ip}:2380`], clientURLs: [`https://${ip}:2379`], isLearner: false })
  const moves = [{ host: 'm1', from: '10.0.0.1', to: '10.0.0.9' }]
  t.same(etcdServersAfter({ memberList: [member('m1', '10.0.0.1'), member('m2', '10.0.0.2')] }, moves), ['https://10.0.0.9:2379', 'https://10.0.0.2:2379'])
  t.throws(() => etcdServersAfter({ memberList: [] }, moves), { code: 'doctor.no-member-list' }, 'an unread member list stops the step')
})

t.test('a move stopped half way (etcd moved, its kube-apiserver not) is still named; a second interface is not', async (t) => {
  const { detectAddressChanged } = await import('../../src/doctor/detect.ts')
  type Ev = Parameters<typeof detectAddressChanged>[1]
  const inspect = (path: string, args: string[]) => ({ Id: 'x', Path: path, Args: args, Config: {} }) as unknown as ContainerInspect
  const inv = { hosts: { master1: { name: 'master1', address: '10.0.9.77', roles: ['etcd', 'controlplane'], labels: {} } }, etcd: { container: 'etcd', peerPort: 2380 } } as never
  const ev = (apiAdv: string, addresses?: string[]) => ({
    run: {
      hosts: [{
        host: 'master1',
        facts: { addresses },
        inspects: {
          etcd: inspect('/usr/local/bin/etcd', ['--name=etcd-master1', '--initial-advertise-peer-urls=https://10.0.9.77:2380']),
          apiserver: inspect('kube-apiserver', [`--advertise-address=${apiAdv}`, '--etcd-servers=https://10.0.9.77:2379']),
        },
      }],
      cluster: { etcd: { memberList: [{ id: 'abc', name: 'etcd-master1', peerURLs: ['https://10.0.9.77:2380'], clientURLs: [] }], members: [] } },
    },
  }) as unknown as Ev
  const [d] = detectAddressChanged(inv, ev('10.0.0.1', ['10.0.9.77']))
  t.equal(d?.id, 'address-changed')
  t.match(d?.title, /kube-apiserver on master1 advertises 10\.0\.0\.1, an address the host no longer has/)
  t.same(d?.data, { host: 'master1', from: '10.0.0.1', to: '10.0.9.77', memberId: 'abc', memberName: 'etcd-master1' }, 'the same move, for the steps left')
  t.same(detectAddressChanged(inv, ev('10.0.0.1', ['10.0.9.77', '10.0.0.1'])), [], 'an address the host still has: a second interface, not a move')
  t.same(detectAddressChanged(inv, ev('10.0.0.1')), [], "the host's addresses unknown: nothing claimed")
  t.same(detectAddressChanged(inv, ev('10.0.9.77', ['10.0.9.77'])), [], 'nothing moved')
})
