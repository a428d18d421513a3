// Every corpus container → `dr container run-command`'s printed command, executed by bash → a copy whose
// docker inspect equals the original's field by field (IGNORED_FIELDS in src/container/compare.ts says what may
// differ). Nothing in the hostile values may run.
import fs from 'node:fs'
import t from 'tap'
import { CLI_UNORDERED, diffContainers, IGNORED_FIELDS } from '../../src/container/compare.ts'
import { inspectContainer, inspectImage } from '../../src/container/inspect.ts'
import { buildRunCommand, formatRunCommand } from '../../src/container/run-command.ts'
import { engineDefaults } from '../../src/container/engine-defaults.ts'
import { LocalTransport } from '../../src/transport/local.ts'
import { type Namespace, pwnedFiles, type Case, useCorpus } from '../helpers/container-corpus.ts'

t.setTimeout(300_000)
const NS: Namespace = { prefix: 'drtest-rc-', octet: 77, portBase: 38080 }
const P = NS.prefix
const local = new LocalTransport()
const corpusOf = useCorpus(t, NS)

t.test('the engine API version is negotiated down to what the engine speaks', async (t) => {
  t.match(corpusOf.engine.apiVersion, /^1\.\d+$/)
  const v = await corpusOf.engine.json<{ ApiVersion: string }>('GET', '/version')
  t.ok(Number(corpusOf.engine.apiVersion.split('.')[1]) <= Number(v.ApiVersion.split('.')[1]), `${corpusOf.engine.apiVersion} <= engine ${v.ApiVersion}`)
})

t.test('the ignored fields are listed in one place, each with a reason', async (t) => {
  t.ok(Object.keys(IGNORED_FIELDS).length > 10)
  for (const [k, why] of Object.entries(IGNORED_FIELDS)) t.ok(why.length > 3, k)
})

t.test('run-command round-trips every corpus container through bash and the docker CLI', async (t) => {
  const defaults = await engineDefaults(corpusOf.engine, local)
  t.ok(corpusOf.cases.length >= 15, `${corpusOf.cases.length} containers in the corpus`)
  for (const c of corpusOf.cases) {
    await t.test(c.name, async (t) => {
      const orig = await inspectContainer(local, c.name)
      const image = await inspectImage(local, orig.Image)
      const copyName = `${c.name}-copy`
      const run = buildRunCommand(orig, image, { name: copyName, engine: defaults })
      const text = formatRunCommand(run.argv)
      t.match(text, /^docker run -d \\\n {2}--name=/, 'readable: one option per line')
      if (c.exclusive) await local.$`docker stop ${c.name}`
      const r = await local.exec(text, { nothrow: true })
      if (!c.createOnly) t.ok(r.ok, `the printed command runs: ${r.stderr}`)
      const copy = await inspectContainer(local, copyName)
      const ignore = c.cliInexact?.fields ?? []
      t.same(diffContainers(orig, copy, { ignore, unordered: CLI_UNORDERED }), [], 'docker inspect is the same in every settable field')
      t.equal(copy.Path, orig.Path, 'same executable')
      t.same(copy.Args, orig.Args, 'same arguments')
      if (c.cliInexact) t.match(run.inexact.join('\n'), c.cliInexact.note, 'says where the CLI is not exact')
      else t.same(run.inexact, [], 'exact')
      await local.$`docker rm -f -v ${copyName}`
      if (c.exclusive) await local.$`docker start ${c.name}`
    })
  }
})

t.test('inherited config is not repeated; overrides are kept', async (t) => {
  const defaults = await engineDefaults(corpusOf.engine, local)
  const argvOf = async (name: string) => {
    const c = await inspectContainer(local, name)
    return buildRunCommand(c, await inspectImage(local, c.Image), { engine: defaults }).argv
  }
  t.same(await argvOf(`${P}base`), ['docker', 'run', '-d', `--name=${P}base`, 'drtest-img:base'], 'a plain container is just its image')
  const o = await argvOf(`${P}overrides`)
  t.ok(o.includes('--env=IMG_ENV=overridden') && !o.some((a) => a.startsWith('--env=PATH=')), 'only the overridden env')
  t.ok(o.includes('--label=img.label=overridden') && !o.includes('--label=dr.test=1'), 'only the overridden label')
  t.same((await argvOf(`${P}entry-noargs`)).slice(-2), ['--entrypoint=/bin/forever', 'drtest-img:entry'], 'an entrypoint override without args')
  t.same((await argvOf(`${P}entry-reset`)).slice(-4), ['--entrypoint=', 'drtest-img:entry', '/bin/forever', 'reset'], "--entrypoint '' reset")
  const api = await argvOf(`${P}kube-apiserver`)
  t.equal(api[api.indexOf('drtest-img:bare') - 1], '--entrypoint=/usr/local/bin/kube-apiserver', 'RKE apiserver: the binary as --entrypoint')
  t.match(api.slice(api.indexOf('drtest-img:bare') + 1)[0], /^--etcd-servers=/, 'and every flag after the image')
  const v = await argvOf(`${P}volumes-from`)
  t.same(v.filter((a) => a.startsWith('--volume')), [`--volumes-from=${P}sidekick:ro`], '--volumes-from mounts are not repeated as -v')
})

t.test('nothing from docker inspect ran as shell code', async (t) => {
  t.same(pwnedFiles(), [])
  t.notOk(fs.existsSync('/tmp/dr-pwned'), 'no stray payload file either')
})
