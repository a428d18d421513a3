// recreate on real containers: every corpus container comes back with the same docker inspect (exact arrays,
// order kept: the Engine API, not the CLI); RKE's etcd and kube-apiserver get their flags edited where they live;
// a new container that does not stay up is rolled back; a run killed half-way converges when run again.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { diffContainers } from '../../src/container/compare.ts'
import { inspectContainer, type ContainerInspect } from '../../src/container/inspect.ts'
import { keptName, recreateContainer } from '../../src/container/recreate.ts'
import { writeState } from '../../src/container/recreate-state.ts'
import { getFlag } from '../../src/container/command-flags.ts'
import { LocalTransport } from '../../src/transport/local.ts'
import { APISERVER_ARGS, pwnedFiles, type Case, type Namespace, useCorpus } from '../helpers/container-corpus.ts'

t.setTimeout(300_000)
const NS: Namespace = { prefix: 'drtest-re-', octet: 78, portBase: 38180 }
const P = NS.prefix
const local = new LocalTransport()
const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'drtest-state-'))
const corpusOf = useCorpus(t, NS)
t.teardown(() => fs.rmSync(stateDir, { recursive: true, force: true }))

const names = async (prefix: string) => (await local.$`docker ps -a --format {{.Names}}`.text()).split('\n').filter((n) => n.startsWith(prefix))
const removeKept = async (name: string) => {
  for (const k of await names(`${name}-old-`)) await local.$`docker rm -f ${k}`
}

t.test('recreate round-trips every corpus container exactly', async (t) => {
  // Containers others depend on (container: network, --volumes-from) go last.
  const order = [...corpusOf.cases].sort((a, b) => Number(a.name.endsWith('-base') || a.name.endsWith('-sidekick')) - Number(b.name.endsWith('-base') || b.name.endsWith('-sidekick')))
  for (const c of order) {
    if (c.createOnly) continue
    await t.test(c.name, async (t) => {
      const before = await inspectContainer(local, c.name)
      if (c.autoRemove) {
        await t.rejects(recreateContainer(local, c.name, { keepRunningCheckMs: 500, stateDir }), { code: 'container.autoremove' })
        t.equal((await inspectContainer(local, c.name)).State?.Running, true, 'a --rm container is left alone')
        return
      }
      const res = await recreateContainer(local, c.name, { keepRunningCheckMs: 1000, stateDir })
      const after = await inspectContainer(local, c.name)
      t.equal(after.Id, res.newId)
      t.not(after.Id, before.Id, 'a new container')
      t.equal(after.State?.Running, true, 'running')
      // Anonymous volumes are carried over by name so their data stays: Binds gains `volume:/dest`, and docker
      // reports such a mount with mode "z" as it does every named volume. Nothing else may differ.
      const anon = (before.Mounts ?? []).filter((m) => m.Type === 'volume' && /^[0-9a-f]{64}$/.test(m.Name ?? '') && m.Destination in (before.Config.Volumes ?? {})).sort((a, b) => a.Destination.localeCompare(b.Destination))
      t.same(diffContainers(before, after, { ignore: anon.length ? ['HostConfig.Binds', 'Mounts'] : [] }), [], 'docker inspect is the same in every settable field, in the same order')
      if (anon.length) {
        t.same(after.HostConfig.Binds, [...(before.HostConfig.Binds ?? []), ...anon.map((m) => `${m.Name}:${m.Destination}`)])
        const reused = new Set(anon.map((m) => m.Destination))
        const expected = (before.Mounts ?? []).map((m) => (reused.has(m.Destination) ? { ...m, Mode: 'z' } : m))
        const sort = (ms: typeof expected) => [...ms].sort((a, b) => a.Destination.localeCompare(b.Destination))
        t.same(sort(after.Mounts ?? []), sort(expected), 'the same mounts, anonymous volumes by the same names')
      }
      t.same(after.Config.Entrypoint, before.Config.Entrypoint, 'entrypoint array exact')
      t.same(after.Config.Cmd, before.Config.Cmd, 'cmd array exact')
      const old = await inspectContainer(local, res.oldName)
      t.equal(old.Id, before.Id, `the old one is kept as ${res.oldName}`)
      t.equal(old.State?.Running, false, 'stopped')
      t.equal(old.HostConfig.RestartPolicy?.Name, 'no', 'and will not restart')
      t.notOk(fs.existsSync(path.join(stateDir, `${c.name}.json`)), 'no state left behind')
      await removeKept(c.name)
    })
  }
})

t.test('RKE etcd: --initial-cluster to self and --force-new-cluster, then back (flags in Cmd)', async (t) => {
  const name = `${P}etcd`
  const before = await inspectContainer(local, name)
  const self = 'etcd-master3=https://192.168.31.103:2380'
  const res = await recreateContainer(local, name, { setArgs: { '--initial-cluster': self }, addArgs: ['--force-new-cluster'], keepRunningCheckMs: 500, stateDir })
  t.match(res.changes.join('\n'), /add argument --initial-cluster=etcd-master3=https/)
  let c = await inspectContainer(local, name)
  t.equal(getFlag(c.Args ?? [], 'initial-cluster'), self)
  t.equal(c.Args?.at(-1), '--force-new-cluster')
  const idx = (before.Args ?? []).findIndex((a) => a.startsWith('--initial-cluster='))
  t.equal(c.Args?.[idx], `--initial-cluster=${self}`, 'edited in place')
  t.same(c.Args?.filter((a) => !a.startsWith('--initial-cluster=') && a !== '--force-new-cluster'), before.Args?.filter((a) => !a.startsWith('--initial-cluster=')), 'every other flag byte for byte')
  // Re-running the same edit changes nothing in the command (idempotent).
  await recreateContainer(local, name, { setArgs: { '--initial-cluster': self }, addArgs: ['--force-new-cluster'], keepRunningCheckMs: 500, stateDir })
  t.same((await inspectContainer(local, name)).Args, c.Args, 'the same edit twice gives the same command')
  await recreateContainer(local, name, { removeArgs: ['--force-new-cluster'], keepRunningCheckMs: 500, stateDir })
  c = await inspectContainer(local, name)
  t.notOk(c.Args?.includes('--force-new-cluster'))
  t.equal(c.HostConfig.RestartPolicy?.Name, 'always', 'restart policy kept')
  t.same(diffContainers(before, c, { ignore: ['Config.Cmd', 'Args'] }), [], 'nothing else changed')
  await removeKept(name)
})

t.test('RKE kube-apiserver: --etcd-servers edited inside the entrypoint, arrays stay exact', async (t) => {
  const name = `${P}kube-apiserver`
  const before = await inspectContainer(local, name)
  t.same(before.Config.Cmd ?? [], [], 'RKE shape: cmd empty')
  await recreateContainer(local, name, { setArgs: { 'etcd-servers': 'https://192.168.31.103:2379' }, keepRunningCheckMs: 500, stateDir })
  const c = await inspectContainer(local, name)
  t.same(c.Config.Entrypoint, ['/usr/local/bin/kube-apiserver', '--etcd-servers=https://192.168.31.103:2379', ...APISERVER_ARGS.slice(1)], 'the whole command stays in the entrypoint')
  t.same(c.Config.Cmd ?? [], [])
  t.same(diffContainers(before, c, { ignore: ['Config.Entrypoint', 'Args'] }), [])
  await removeKept(name)
})

t.test('a new container that exits is rolled back: old one back, restart policy restored, logs in the error', async (t) => {
  const name = `${P}net-none`
  const before = await inspectContainer(local, name)
  t.equal(before.HostConfig.RestartPolicy?.Name, 'unless-stopped')
  const err = await recreateContainer(local, name, { addArgs: ['--fail-now'], keepRunningCheckMs: 3000, stateDir }).catch((e) => e)
  t.equal(err.code, 'container.recreate-failed')
  t.match(err.stderr, /failing on purpose/, 'the new container\'s logs')
  const c: ContainerInspect = await inspectContainer(local, name)
  t.equal(c.Id, before.Id, 'the old container is back under its name')
  t.equal(c.State?.Running, true)
  t.equal(c.HostConfig.RestartPolicy?.Name, 'unless-stopped')
  t.same(await names(`${name}-old-`), [], 'no kept copy left')
  t.equal((await local.$`docker ps -a -q --filter ${`name=^/${name}$`}`.text()).split('\n').length, 1, 'the failed one is gone')
})

t.test('a stopped container whose new copy fails is left stopped, as it was', async (t) => {
  const name = `${P}security`
  await local.$`docker stop ${name}`
  const err = await recreateContainer(local, name, { addArgs: ['--fail-now'], keepRunningCheckMs: 2000, stateDir }).catch((e) => e)
  t.equal(err.code, 'container.recreate-failed')
  t.match(err.message, /stopped, as it was/)
  const c = await inspectContainer(local, name)
  t.equal(c.State?.Running, false)
  t.equal(c.HostConfig.RestartPolicy?.Name, 'no')
  await local.$`docker start ${name}`
})

t.test('dryRun changes nothing, even with an interrupted run recorded', async (t) => {
  const name = `${P}health-sysctl-log`
  const before = await inspectContainer(local, name)
  const res = await recreateContainer(local, name, { dryRun: true, setArgs: { x: '1' }, stateDir })
  t.equal(res.newId, '')
  t.same(res.changes, ['add argument --x=1'])
  const after = await inspectContainer(local, name)
  t.equal(after.Id, before.Id)
  t.equal(after.State?.Running, true)
})

t.test('a run killed after renaming the old one converges when run again', async (t) => {
  const name = `${P}resources`
  const before = await inspectContainer(local, name)
  await local.$`docker update --restart=on-failure:3 ${name}`
  const oldName = keptName(name)
  // What a killed run leaves: state written, old stopped, restart=no, renamed; no new container.
  await writeState(local, { name, oldId: before.Id, oldName, restartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 }, phase: 'creating-new', startedAt: new Date().toISOString() }, stateDir)
  await local.$`docker update --restart=no ${name}`
  await local.$`docker stop ${name}`
  await local.$`docker rename ${name} ${oldName}`
  const res = await recreateContainer(local, name, { keepRunningCheckMs: 500, stateDir })
  t.equal(res.oldName, oldName, 'picks up the recorded old container')
  const c = await inspectContainer(local, name)
  t.equal(c.State?.Running, true)
  t.same(c.HostConfig.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 3 }, 'the original restart policy, from the state file')
  t.same(await names(`${name}-old-`), [oldName])
  await removeKept(name)
})

t.test('a run killed after creating the new one removes the unverified one and converges', async (t) => {
  const name = `${P}entry-cmd`
  const before = await inspectContainer(local, name)
  const oldName = keptName(name)
  await local.$`docker update --restart=no ${name}`
  await local.$`docker stop ${name}`
  await local.$`docker rename ${name} ${oldName}`
  const half = await local.$`docker create --name ${name} --label dr.test=1 drtest-img:entry --half-made`.text()
  await writeState(local, { name, oldId: before.Id, oldName, restartPolicy: { Name: 'no' }, phase: 'starting-new', newId: half, startedAt: new Date().toISOString() }, stateDir)
  await recreateContainer(local, name, { keepRunningCheckMs: 500, stateDir })
  const c = await inspectContainer(local, name)
  t.not(c.Id, half, 'the half-made container was replaced')
  t.same(c.Config.Cmd, before.Config.Cmd, 'from the old container\'s config')
  await removeKept(name)
})

t.test('a stale state file never removes a container it did not make', async (t) => {
  const name = `${P}entry-reset`
  const current = await inspectContainer(local, name)
  const kept = keptName(name).replace(/Z$/, 'Z-stale')
  // An old re-creation's leftovers: its kept copy, and a record naming another new container than today's NAME.
  const old = (await local.$`docker create --name ${kept} drtest-img:entry /bin/forever stale`.text()).trim()
  t.teardown(() => local.$`docker rm -f ${kept}`.nothrow())
  for (const st of [
    { phase: 'starting-new' as const, newId: 'f'.repeat(64) },
    { phase: 'stopping-old' as const },
    { phase: 'creating-new' as const, createAfter: Math.floor(Date.now() / 1000) - 86_400 },
  ]) {
    await writeState(local, { name, oldId: old, oldName: kept, restartPolicy: { Name: 'always' }, startedAt: '2026-01-01T00:00:00Z', ...st }, stateDir)
    const err = await recreateContainer(local, name, { keepRunningCheckMs: 500, stateDir }).catch((e) => e)
    t.equal(err.code, 'container.recreate-foreign', `${st.phase}: refused`)
    t.match(err.message, /not one it made/)
    const now = await inspectContainer(local, name)
    t.equal(now.Id, current.Id, `${st.phase}: today's ${name} is untouched`)
    t.equal(now.State?.Running, true)
  }
  await local.$`rm -f ${path.join(stateDir, `${name}.json`)}`
})

t.test('NAME gone and only NAME-old-* left, with no recorded run: says so and what to do', async (t) => {
  const name = `${P}entry-noargs`
  await local.$`docker stop ${name}`
  await local.$`docker rename ${name} ${`${name}-old-20260101T000000Z`}`
  const err = await recreateContainer(local, name, { stateDir }).catch((e) => e)
  t.equal(err.code, 'container.not-found')
  t.match(err.message, new RegExp(`only kept copies .*${name}-old-20260101T000000Z`))
  t.match(err.hint, new RegExp(`docker rename ${name}-old-20260101T000000Z ${name} `))
})

t.test('nothing from docker inspect ran as shell code', async (t) => {
  t.same(pwnedFiles(), [])
})
