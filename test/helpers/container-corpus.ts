// The corpus of real containers the container tests re-create: every case issue 4 lists, each a `docker run`
// argv (never a shell string). Names start with drtest-, every container carries dr.test=1.
import fs from 'node:fs'
import { runLocal } from '../../src/transport/local.ts'
import { ensureTestImages, PREFIX, removeTestContainers, removeTestNetworksAndVolumes, TEST_LABEL } from './docker-image.ts'
import { Engine } from '../../src/container/engine.ts'
import { LocalTransport } from '../../src/transport/local.ts'

export const PWNED = `/tmp/dr-pwned-${process.pid}`
export const BINDS = `/tmp/drtest-binds-${process.pid}`

/** Each test file gets its own names, subnet and host ports, so files can run side by side. */
export interface Namespace {
  prefix: string
  /** Third octet of the 10.250.X.0/24 test network. */
  octet: number
  portBase: number
}
export const DEFAULT_NS: Namespace = { prefix: PREFIX, octet: 77, portBase: 38080 }

/** Values that would run code if anything pasted them into a shell. */
export const HOSTILE = [
  `$(touch ${PWNED}-1)`,
  `\`touch ${PWNED}-2\``,
  `a'b"c $HOME \\ ; touch ${PWNED}-3`,
  `line1\nline2 $(touch ${PWNED}-4)`,
  `{{.Name}} {{json .Config}}`,
  ` leading and trailing spaces `,
]

export const pwnedFiles = (): string[] => fs.readdirSync('/tmp').filter((f) => f.startsWith(`dr-pwned-${process.pid}`))

export interface Case {
  name: string
  /** docker run flags (before the image) and the words after it. */
  flags: string[]
  image: string
  args?: string[]
  /** Created only: this host cannot start it (no capabilities for --privileged, no shared mounts). */
  createOnly?: boolean
  /** Created through the Engine API, the way RKE creates its containers. */
  api?: Record<string, unknown>
  /** The docker CLI here cannot say it exactly: these inspect fields may differ, and the note must say why. */
  cliInexact?: { fields: string[]; note: RegExp }
  /** Holds a static IP or host ports: a copy can only run while it is stopped. */
  exclusive?: boolean
  /** Networks to connect after creation (the CLI connects one at create). */
  connect?: Array<{ network: string; alias: string }>
  /** recreate refuses it (started with --rm). */
  autoRemove?: boolean
}


// Seed 003's etcd, on the test image.
const ETCD_FLAGS = [
  '--listen-client-urls=https://0.0.0.0:2379',
  '--initial-advertise-peer-urls=https://192.168.31.103:2380',
  '--initial-cluster-state=new',
  '--trusted-ca-file=/etc/kubernetes/ssl/kube-ca.pem',
  '--peer-key-file=/etc/kubernetes/ssl/kube-etcd-192-168-31-103-key.pem',
  '--advertise-client-urls=https://192.168.31.103:2379',
  '--initial-cluster-token=etcd-cluster-1',
  '--listen-peer-urls=https://0.0.0.0:2380',
  '--initial-cluster=etcd-master1=https://192.168.31.101:2380,etcd-master2=https://192.168.31.102:2380,etcd-master3=https://192.168.31.103:2380',
  '--peer-trusted-ca-file=/etc/kubernetes/ssl/kube-ca.pem',
  '--key-file=/etc/kubernetes/ssl/kube-etcd-192-168-31-103-key.pem',
  '--election-timeout=5000',
  '--heartbeat-interval=500',
  '--data-dir=/var/lib/rancher/etcd/',
  '--client-cert-auth=true',
  '--peer-client-cert-auth=true',
  '--name=etcd-master3',
  '--cert-file=/etc/kubernetes/ssl/kube-etcd-192-168-31-103.pem',
  '--peer-cert-file=/etc/kubernetes/ssl/kube-etcd-192-168-31-103.pem',
  '--enable-v2=true',
]

export const APISERVER_ARGS = [
  '--etcd-servers=https://192.168.31.103:2379,https://192.168.31.101:2379,https://192.168.31.102:2379',
  '--etcd-cafile=/etc/kubernetes/ssl/kube-ca.pem',
  '--etcd-certfile=/etc/kubernetes/ssl/kube-node.pem',
  '--etcd-keyfile=/etc/kubernetes/ssl/kube-node-key.pem',
  '--secure-port=6443',
  '--bind-address=0.0.0.0',
  '--allow-privileged=true',
]

export function corpus(ns: Namespace = DEFAULT_NS): Case[] {
  const n = (s: string) => `${ns.prefix}${s}`
  const NET = n('net')
  const ip = (last: number) => `10.250.${ns.octet}.${last}`
  const port = (i: number) => ns.portBase + i
  return [
    { name: n('base'), flags: [], image: 'drtest-img:base' },
    {
      name: n('hostile'),
      flags: [
        ...HOSTILE.map((v, i) => `--env=HOSTILE${i}=${v}`),
        '--env=SPACES=a b  c',
        ...HOSTILE.map((v, i) => `--label=hostile.${i}=${v}`),
        `--log-opt=tag=${HOSTILE[0]} {{.Name}}`,
        '--log-opt=max-size=1m',
        '--log-opt=max-file=2',
        '--workdir=/srv/a dir',
      ],
      image: 'drtest-img:base',
      args: ['/bin/forever', ...HOSTILE],
    },
    {
      name: n('overrides'),
      flags: ['--env=IMG_ENV=overridden', '--label=img.label=overridden', '--user=nobody', '--workdir=/tmp', '--tty', '--interactive', `--link=${n('base')}:db`, '--no-healthcheck'],
      image: 'drtest-img:base',
    },
    { name: n('entry-cmd'), flags: [], image: 'drtest-img:entry', args: ['--x', 'two words'] },
    { name: n('entry-reset'), flags: ['--entrypoint='], image: 'drtest-img:entry', args: ['/bin/forever', 'reset'] },
    { name: n('entry-noargs'), flags: ['--entrypoint=/bin/forever'], image: 'drtest-img:entry' },
    {
      name: n('etcd'),
      flags: [
        '--hostname=master3',
        '--env=ETCDCTL_API=3',
        '--env=ETCDCTL_CACERT=/etc/kubernetes/ssl/kube-ca.pem',
        '--env=ETCDCTL_CERT=/etc/kubernetes/ssl/kube-etcd-192-168-31-103.pem',
        '--env=ETCDCTL_KEY=/etc/kubernetes/ssl/kube-etcd-192-168-31-103-key.pem',
        '--env=ETCDCTL_ENDPOINTS=https://127.0.0.1:2379',
        '--env=ETCD_UNSUPPORTED_ARCH=x86_64',
        `--volume=${BINDS}/var-lib-etcd:/var/lib/rancher/etcd/:z`,
        `--volume=${BINDS}/etc-kubernetes:/etc/kubernetes:z`,
        '--network=host',
        '--restart=always',
        '--label=io.rancher.rke.container.name=etcd',
        '--runtime=runc',
      ],
      image: 'drtest-img:bare',
      args: ['/usr/local/bin/etcd', ...ETCD_FLAGS],
    },
    // RKE's service-sidekick: volumes other containers take with --volumes-from.
    { name: n('sidekick'), flags: ['--volume=/opt/rke-tools', `--volume=${n('vol-side')}:/opt/named`], image: 'drtest-img:base' },
    {
      name: n('kube-apiserver'),
      flags: [],
      image: 'drtest-img:bare',
      cliInexact: { fields: ['Config.Entrypoint', 'Config.Cmd'], note: /entrypoint has \d+ elements/ },
      api: {
        Image: 'drtest-img:bare',
        Entrypoint: ['/usr/local/bin/kube-apiserver', ...APISERVER_ARGS],
        Env: ['RKE_AUDITLOG_CONFIG_CHECKSUM=856f426399fb14a50b78e721d15c168c', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        Labels: { 'dr.test': '1', 'io.rancher.rke.container.name': 'kube-apiserver' },
        HostConfig: {
          Binds: [`${BINDS}/etc-kubernetes:/etc/kubernetes:z`, `${BINDS}/kube-audit:/var/log/kube-audit:z`],
          VolumesFrom: [n('sidekick')],
          NetworkMode: 'host',
          RestartPolicy: { Name: 'always' },
        },
      },
    },
    {
      name: n('volumes'),
      flags: [
        `--volume=${BINDS}/a:/a:ro`,
        `--volume=${BINDS}/b:/b:z`,
        `--volume=${BINDS}/c:/c:rprivate`,
        `--volume=${n('vol')}:/d`,
        '--volume=/e',
        `--mount=type=bind,source=${BINDS}/f,target=/f,readonly,bind-propagation=rprivate`,
        `--mount=type=volume,source=${n('vol2')},target=/g,volume-label=dr.test=1,volume-nocopy`,
        '--mount=type=tmpfs,target=/h,tmpfs-size=1048576,tmpfs-mode=1770',
        '--tmpfs=/i:rw,size=1m,mode=1777',
      ],
      image: 'drtest-img:entry',
    },
    { name: n('volumes-from'), flags: [`--volumes-from=${n('sidekick')}:ro`], image: 'drtest-img:base' },
    { name: n('net-none'), flags: ['--network=none', '--restart=unless-stopped'], image: 'drtest-img:base' },
    { name: n('net-container'), flags: [`--network=container:${n('base')}`], image: 'drtest-img:base' },
    {
      name: n('net-user'),
      exclusive: true,
      flags: [
        `--network=${NET}`,
        `--ip=${ip(10)}`,
        '--network-alias=a1',
        '--network-alias=a-2',
        '--hostname=explicit-host',
        '--domainname=example.internal',
        `--dns=${ip(53)}`,
        '--dns-search=example.internal',
        '--dns-option=ndots:2',
        '--add-host=foo.internal:10.1.2.3',
        '--expose=7000-7001',
        '--expose=7005/udp',
        `--publish=127.0.0.1:${port(0)}:80/tcp`,
        `--publish=127.0.0.1:${port(1)}:81/udp`,
        '--publish=127.0.0.1::82',
        '--restart=on-failure:5',
      ],
      image: 'drtest-img:base',
    },
    // docker CLI 28 refuses --mac-address against API 1.41 ("requires API version 1.44"): made through the API.
    {
      name: n('net-mac'),
      exclusive: true,
      flags: [],
      image: 'drtest-img:base',
      cliInexact: { fields: ['Config.MacAddress'], note: /MAC address/ },
      api: {
        Image: 'drtest-img:base',
        MacAddress: '02:42:0a:fa:4d:0a',
        Labels: { 'dr.test': '1' },
        HostConfig: { NetworkMode: NET },
        NetworkingConfig: { EndpointsConfig: { [NET]: { IPAMConfig: { IPv4Address: ip(12) }, Aliases: ['mac-alias'] } } },
      },
    },
    {
      name: n('resources'),
      flags: [
        '--cpus=0.5',
        '--cpuset-cpus=0',
        '--cpu-shares=512',
        '--memory=64m',
        '--memory-reservation=32m',
        '--memory-swap=200m',
        '--memory-swappiness=10',
        '--pids-limit=100',
        '--shm-size=32m',
        '--oom-score-adj=100',
        '--ulimit=nofile=1024:2048',
        '--ulimit=nproc=100:200',
      ],
      image: 'drtest-img:base',
    },
    {
      name: n('security'),
      flags: [
        '--cap-add=NET_ADMIN',
        '--cap-drop=MKNOD',
        '--device=/dev/null:/dev/mynull:rwm',
        '--device-cgroup-rule=c 1:3 mr',
        '--security-opt=no-new-privileges',
        '--read-only',
        '--init',
        '--stop-signal=SIGINT',
        '--stop-timeout=7',
        '--group-add=65534',
        '--user=0:0',
      ],
      image: 'drtest-img:base',
    },
    {
      name: n('health-sysctl-log'),
      flags: [
        '--health-cmd=test -n "$HOME" && echo `date` {{x}}',
        '--health-interval=5s',
        '--health-timeout=3s',
        '--health-start-period=1s',
        '--health-retries=2',
        '--sysctl=net.ipv4.ip_local_port_range=1024 65000',
        '--sysctl=net.core.somaxconn=1024',
        '--log-driver=local',
        '--log-opt=max-size=5m',
      ],
      image: 'drtest-img:base',
    },
    { name: n('namespaces'), flags: ['--pid=host', '--ipc=shareable', '--uts=host'], image: 'drtest-img:base' },
    // Sysctl values are checked by the kernel at start only, so a hostile one can be created, not started.
    { name: n('privileged'), flags: ['--privileged', `--volume=${BINDS}/c:/c2:rslave`, `--sysctl=net.core.somaxconn=${HOSTILE[0]}`], image: 'drtest-img:base', createOnly: true },
    {
      name: n('net-two'),
      flags: [`--network=${NET}`, '--network-alias=first'],
      image: 'drtest-img:base',
      connect: [{ network: n('net2'), alias: 'second' }],
      cliInexact: { fields: [`Networks.${n('net2')}`], note: /also connected to network/ },
    },
    { name: n('autoremove'), flags: ['--rm'], image: 'drtest-img:base', autoRemove: true },
  ]
}

async function run(argv: string[]) {
  const r = await runLocal(argv)
  if (!r.ok) throw new Error(`${argv.join(' ')}: ${r.stderr}`)
  return r.stdout.trim()
}

/** Images, network, volumes, bind sources; then every case's container. */
export async function createCorpus(createViaApi: (name: string, body: Record<string, unknown>) => Promise<void>, ns: Namespace = DEFAULT_NS): Promise<Case[]> {
  const n = (s: string) => `${ns.prefix}${s}`
  await ensureTestImages()
  await destroyCorpus(ns)
  for (const d of ['a', 'b', 'c', 'f', 'var-lib-etcd', 'etc-kubernetes', 'kube-audit']) fs.mkdirSync(`${BINDS}/${d}`, { recursive: true })
  await run(['docker', 'network', 'create', '--label', TEST_LABEL, '--subnet', `10.250.${ns.octet}.0/24`, n('net')])
  await run(['docker', 'network', 'create', '--label', TEST_LABEL, '--subnet', `10.251.${ns.octet}.0/24`, n('net2')])
  for (const v of ['vol', 'vol2', 'vol-side']) await run(['docker', 'volume', 'create', '--label', TEST_LABEL, n(v)])
  const cases = corpus(ns)
  for (const c of cases) {
    if (c.api) await createViaApi(c.name, c.api)
    else await run(['docker', c.createOnly ? 'create' : 'run', ...(c.createOnly ? [] : ['-d']), `--name=${c.name}`, `--label=${TEST_LABEL}`, ...c.flags, c.image, ...(c.args ?? [])])
    for (const x of c.connect ?? []) await run(['docker', 'network', 'connect', `--alias=${x.alias}`, x.network, c.name])
  }
  return cases
}

export async function destroyCorpus(ns: Namespace = DEFAULT_NS): Promise<void> {
  await removeTestContainers(ns.prefix)
  await removeTestNetworksAndVolumes(ns.prefix)
  fs.rmSync(BINDS, { recursive: true, force: true })
}

/**
 * One test file's corpus: created in `t.before` (API-shaped cases through the Engine API, started), removed in
 * `t.teardown`. Read `engine` and `cases` inside tests, after the before hook has run.
 */
export function useCorpus(
  t: { before(fn: () => Promise<void>): void; teardown(fn: () => Promise<void>): void },
  ns: Namespace,
): { engine: Engine; cases: Case[] } {
  const state = { cases: [] as Case[] } as { engine: Engine; cases: Case[] }
  t.before(async () => {
    state.engine = await Engine.open(new LocalTransport())
    state.cases = await createCorpus(async (name, body) => {
      const id = await state.engine.createContainer(name, body)
      await state.engine.startContainer(id)
    }, ns)
  })
  t.teardown(async () => {
    await destroyCorpus(ns)
    await state.engine?.close()
  })
  return state
}
