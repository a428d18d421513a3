import t from 'tap'
import { formatEtcdServers, formatInitialCluster, onlyMember, parseEtcdServers, parseInitialCluster } from '../../src/container/initial-cluster.ts'

const seed = 'etcd-master1=https://192.168.31.101:2380,etcd-master2=https://192.168.31.102:2380,etcd-master3=https://192.168.31.103:2380'

t.test('--initial-cluster parses to peers and formats back unchanged', async (t) => {
  const peers = parseInitialCluster(seed)
  t.same(peers[2], { name: 'etcd-master3', url: 'https://192.168.31.103:2380' })
  t.equal(peers.length, 3)
  t.equal(formatInitialCluster(peers), seed)
  t.equal(formatInitialCluster(onlyMember(peers, 'etcd-master3')), 'etcd-master3=https://192.168.31.103:2380', 'seed 003: self only')
  t.same(parseInitialCluster('a=http://1.1.1.1:2380,a=http://2.2.2.2:2380').map((p) => p.name), ['a', 'a'], 'a member with two peer URLs')
  t.same(parseInitialCluster(''), [])
  t.throws(() => parseInitialCluster('etcd-master1'), { code: 'etcd.bad-initial-cluster' })
  t.throws(() => parseInitialCluster('=https://x:1'), { code: 'etcd.bad-initial-cluster' })
  t.throws(() => parseInitialCluster('a=not a url'), { code: 'etcd.bad-url' })
})

t.test('--etcd-servers parses to URLs with host and port and formats back', async (t) => {
  const v = 'https://192.168.31.103:2379,https://192.168.31.101:2379,http://[fd00::1]:2379'
  const s = parseEtcdServers(v)
  t.same(s.map((x) => [x.host, x.port]), [['192.168.31.103', 2379], ['192.168.31.101', 2379], ['fd00::1', 2379]])
  t.equal(formatEtcdServers(s), v)
  t.equal(formatEtcdServers(s.filter((x) => x.host !== '192.168.31.101')), 'https://192.168.31.103:2379,http://[fd00::1]:2379', 'drop a dead member')
  t.equal(parseEtcdServers('https://a.example')[0].port, 443)
  t.throws(() => parseEtcdServers('ftp://x:1'), { code: 'etcd.bad-url' })
})
