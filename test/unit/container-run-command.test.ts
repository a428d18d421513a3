// docker inspect JSON recorded from docker 20.10.24 (test/fixtures/docker-20.10.24) → docker run argv, create body.
import fs from 'node:fs'
import t from 'tap'
import { diffContainers } from '../../src/container/compare.ts'
import { createBody } from '../../src/container/create-body.ts'
import { demultiplex } from '../../src/container/engine.ts'
import { commandForm, editProcess } from '../../src/container/entrypoint.ts'
import type { ContainerInspect, ImageInspect } from '../../src/container/inspect.ts'
import { planRecreate } from '../../src/container/recreate.ts'
import { buildRunCommand, formatRunCommand, runArgv, type EngineDefaults } from '../../src/container/run-command.ts'
import { runLocal } from '../../src/transport/local.ts'

const dir = new URL('../fixtures/docker-20.10.24/', import.meta.url)
const load = <T>(f: string): T => (JSON.parse(fs.readFileSync(new URL(f, dir), 'utf8')) as T[])[0]
const container = (n: string) => load<ContainerInspect>(`inspect-${n}.json`)
const images: Record<string, ImageInspect> = Object.fromEntries(['base', 'entry', 'bare'].map((i) => [`drtest-img:${i}`, load<ImageInspect>(`image-${i}.json`)]))
const imageOf = (c: ContainerInspect) => images[c.Config.Image as string]
const info = JSON.parse(fs.readFileSync(new URL('info.json', dir), 'utf8'))
const engine: EngineDefaults = { hostname: info.Name, logDriver: info.LoggingDriver, runtime: info.DefaultRuntime, cgroupnsMode: 'host', cliMacAddress: false }
const argvOf = (n: string, opts = {}) => runArgv(container(n), imageOf(container(n)), { engine, ...opts })

t.test("RKE etcd (seed 003): the flags after the image, nothing the image already has", async (t) => {
  const c = container('etcd')
  const a = argvOf('etcd')
  t.same(a.slice(0, 5), ['docker', 'run', '-d', '--name=drtest-etcd', '--hostname=master3'])
  t.ok(a.includes('--network=host') && a.includes('--restart=always') && a.includes('--label=io.rancher.rke.container.name=etcd'))
  t.notOk(a.some((w) => w.startsWith('--env=PATH=')), 'PATH comes from the image')
  t.notOk(a.includes('--label=dr.test=1'), 'an image label is not repeated')
  t.ok(a.some((w) => w.endsWith(':/var/lib/rancher/etcd/:z')), 'bind with :z as written')
  const i = a.indexOf('drtest-img:bare')
  t.same(a.slice(i + 1), c.Config.Cmd, 'the command after the image, exactly')
  t.notOk(a.includes('--runtime=runc'), 'the default runtime is not pinned')
})

t.test('RKE kube-apiserver: the whole command in the entrypoint → --entrypoint BIN IMAGE FLAGS…, and says so', async (t) => {
  const c = container('kube-apiserver')
  const r = buildRunCommand(c, imageOf(c), { engine })
  const i = r.argv.indexOf('drtest-img:bare')
  t.equal(r.argv[i - 1], '--entrypoint=/usr/local/bin/kube-apiserver')
  t.same(r.argv.slice(i + 1), c.Config.Entrypoint?.slice(1), 'every flag, none lost (runlike printed none)')
  t.match(r.inexact[0], /entrypoint has 8 elements/)
  t.ok(r.argv.includes('--volumes-from=drtest-sidekick'))
  const body = createBody(c, imageOf(c)).body
  t.same(body.Entrypoint, c.Config.Entrypoint, 'the Engine API body keeps the array exact')
  t.same(body.Cmd, null)
})

t.test('entrypoint forms', async (t) => {
  const img = { Entrypoint: ['/e', '-x'], Cmd: ['c'] }
  t.same(commandForm({ Entrypoint: ['/e', '-x'], Cmd: ['c'] }, img), { args: [] }, 'all inherited')
  t.same(commandForm({ Entrypoint: ['/e', '-x'], Cmd: ['d', 'e f'] }, img), { args: ['d', 'e f'] }, 'cmd override')
  t.same(commandForm({ Entrypoint: null, Cmd: ['sh'] }, img), { entrypoint: '', args: ['sh'] }, "--entrypoint '' reset")
  t.same(commandForm({ Entrypoint: ['/bin/x'], Cmd: null }, img), { entrypoint: '/bin/x', args: [] }, 'override without args drops the image cmd')
  t.same(commandForm({ Entrypoint: ['/bin/x'], Cmd: ['c'] }, img), { entrypoint: '/bin/x', args: ['c'] }, 'override repeats the cmd (docker drops it otherwise)')
  const multi = commandForm({ Entrypoint: ['/a', 'b c', '--d'], Cmd: ['e'] }, {})
  t.same([multi.entrypoint, multi.args], ['/a', ['b c', '--d', 'e']], 'same process')
  t.ok(multi.inexact)
  t.same(commandForm({ Entrypoint: ['/e', '-x'], Cmd: null }, img).args, ['-x'], 'image entrypoint, cmd emptied: only an override drops it')
  t.same(commandForm({ Entrypoint: ['/e', '-x'], Cmd: null }, img).entrypoint, '/e')
})

t.test('flag edits go where the flags live', async (t) => {
  const add = (a: string[]) => [...a, '--new']
  t.same(editProcess({ Entrypoint: null, Cmd: ['/etcd', '--a'] }, add), { Entrypoint: null, Cmd: ['/etcd', '--a', '--new'] }, 'etcd: Cmd')
  t.same(editProcess({ Entrypoint: ['/api', '--a'], Cmd: [] }, add), { Entrypoint: ['/api', '--a', '--new'], Cmd: [] }, 'apiserver: entrypoint tail')
  t.same(editProcess({ Entrypoint: ['/e', '-x'], Cmd: ['--a'] }, add), { Entrypoint: ['/e', '-x'], Cmd: ['--a', '--new'] }, 'entrypoint kept, cmd edited')
  t.same(editProcess({ Entrypoint: ['/e', '--x=1'], Cmd: ['--a'] }, (a) => a.map((w) => (w === '--x=1' ? '--x=2' : w))), { Entrypoint: ['/e', '--x=2', '--a'], Cmd: [] }, 'an edit inside the entrypoint moves the command there')
  const same = { Entrypoint: ['/e'], Cmd: ['c'] }
  t.same(editProcess(same, (a) => a), same, 'no edit, no change')
})

t.test('every corpus fixture prints a runnable, exactly quoted command', async (t) => {
  for (const f of fs.readdirSync(dir).filter((f) => f.startsWith('inspect-'))) {
    const c = load<ContainerInspect>(f)
    const argv = runArgv(c, imageOf(c), { engine })
    const text = formatRunCommand(argv)
    // bash reads the printed command back into the same words.
    const r = await runLocal(['bash', '-c', `docker() { printf '%s\\0' docker "$@"; }\n${text}`])
    t.equal(r.exitCode, 0, f)
    t.same(r.stdout.split('\0').slice(0, -1), argv, `${f}: bash reads back the same argv`)
  }
})

t.test('hostile values are single words, in env, labels, log options and args', async (t) => {
  const a = argvOf('hostile')
  t.ok(a.some((w) => w.startsWith('--env=HOSTILE0=$(touch ')))
  t.ok(a.some((w) => w.startsWith('--label=hostile.3=line1\nline2')))
  t.ok(a.some((w) => w.startsWith('--log-opt=tag=$(touch ')))
  t.ok(a.includes('--workdir=/srv/a dir'))
  t.match(formatRunCommand(a), /'--env=HOSTILE1=`touch [^']*`'/)
})

t.test('networks, ports, MAC, volumes', async (t) => {
  const u = argvOf('net-user')
  for (const w of ['--network=drtest-net', '--ip=10.250.77.10', '--network-alias=a1', '--network-alias=a-2', '--hostname=explicit-host', '--publish=127.0.0.1:38080:80/tcp', '--publish=127.0.0.1:38081:81/udp', '--publish=127.0.0.1::82/tcp', '--expose=7005/udp', '--restart=on-failure:5']) {
    t.ok(u.includes(w), w)
  }
  t.notOk(u.some((w) => /^--network-alias=[0-9a-f]{12}$/.test(w)), 'the short id alias docker adds is not pinned')
  t.notOk(u.includes('--expose=9000/tcp'), 'the image EXPOSE is not repeated')
  const m = buildRunCommand(container('net-mac'), images['drtest-img:base'], { engine })
  t.notOk(m.argv.some((w) => w.startsWith('--mac-address')), 'CLI 28 cannot send a MAC to API 1.41')
  t.match(m.inexact.join(), /MAC address/)
  t.ok(runArgv(container('net-mac'), images['drtest-img:base'], { engine: { ...engine, cliMacAddress: true } }).includes('--mac-address=02:42:0a:fa:4d:0a'), 'an older CLI can')
  t.same(argvOf('base'), ['docker', 'run', '-d', '--name=drtest-base', 'drtest-img:base'])
  t.notOk(argvOf('base').some((w) => w.startsWith('--hostname')), 'a generated hostname is not pinned')
  const v = argvOf('volumes')
  t.ok(v.includes('--volume=/e') && !v.includes('--volume=/imgvol'), 'an anonymous volume, not the image one')
  t.ok(v.some((w) => /^--mount=type=volume,source=drtest-vol2,target=\/g,volume-nocopy,volume-label=dr.test=1$/.test(w)), v.filter((w) => w.startsWith('--mount')).join(' '))
  t.ok(argvOf('net-container').includes(`--network=${container('net-container').HostConfig.NetworkMode}`))
})

t.test('a moved tag: the image by id', async (t) => {
  const c = container('base')
  const moved = { ...images['drtest-img:base'], Id: 'sha256:' + 'f'.repeat(64), RepoTags: [] }
  t.equal(runArgv(c, moved).at(-1), c.Image)
})

t.test('plan: the changes in words', async (t) => {
  const c = container('etcd')
  const p = planRecreate(c, imageOf(c), { setArgs: { 'initial-cluster': 'etcd-master3=https://192.168.31.103:2380' }, addArgs: ['--force-new-cluster'], restartPolicy: { Name: 'no' } })
  t.same(p.changes.slice(1), ['add argument --initial-cluster=etcd-master3=https://192.168.31.103:2380', 'add argument --force-new-cluster', 'restart policy always → no'])
  t.match(p.changes[0], /^remove argument --initial-cluster=etcd-master1=/)
  t.ok(p.argv.includes('--restart=no'))
})

t.test('compare: identical is empty, a change names its field', async (t) => {
  const c = container('etcd')
  t.same(diffContainers(c, JSON.parse(JSON.stringify(c))), [])
  const d = JSON.parse(JSON.stringify(c)) as ContainerInspect
  d.Id = 'x'.repeat(64)
  d.State = {}
  d.HostConfig.Memory = 5
  t.same(diffContainers(c, d).map((x) => x.path), ['HostConfig.Memory'])
})

t.test('docker log frames are demultiplexed', async (t) => {
  const frame = (s: number, text: string) => Buffer.concat([Buffer.from([s, 0, 0, 0, 0, 0, 0, text.length]), Buffer.from(text)])
  t.equal(demultiplex(Buffer.concat([frame(1, 'out\n'), frame(2, 'err\n')])), 'out\nerr\n')
  t.equal(demultiplex(Buffer.from('tty text')), 'tty text')
})

t.test('two networks: the CLI connects one (and says so), the create body connects the other before start', async (t) => {
  const c = container('net-two')
  const r = buildRunCommand(c, imageOf(c), { engine })
  t.ok(r.argv.includes('--network=drtest-net') && r.argv.includes('--network-alias=first'))
  t.match(r.inexact.join(), /also connected to network drtest-net2/)
  const req = createBody(c, imageOf(c))
  t.same(Object.keys(req.body.NetworkingConfig?.EndpointsConfig ?? {}), ['drtest-net'])
  t.same(req.extraNetworks.map((n) => [n.name, n.config.Aliases]), [['drtest-net2', ['second']]])
  t.same(createBody(container('entry-reset'), imageOf(container('entry-reset'))).body.Entrypoint, [''], "a reset entrypoint is sent as [''] (what --entrypoint '' sends)")
  t.equal(createBody(container('net-container'), imageOf(container('net-container'))).body.ExposedPorts, null, 'image ports are not sent back (the engine refuses them with a container: network)')
})
