import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { withoutNodes, writeRkeConfig } from '../../src/kube/rke-config.ts'

const fixture = fs.readFileSync(new URL('../fixtures/rke-1.2/cluster.yml', import.meta.url), 'utf8')

t.test('the lost site is removed from cluster.yml, comments and the rest kept', async (t) => {
  const r = withoutNodes(fixture, new Set(['192.168.31.101', '192.168.31.102', 'node1']))
  t.same(r.removed, ['192.168.31.101', '192.168.31.102', '192.168.31.104'])
  t.notMatch(r.text, /192\.168\.31\.10[124]/)
  t.match(r.text, /192\.168\.31\.103 # master3, site B/)
  t.match(r.text, /# keep the network plugin as it was\nnetwork:\n  plugin: canal/)
  t.match(r.text, /^# RKE cluster.yml of seed 003/)
  t.equal(withoutNodes(r.text, new Set(['192.168.31.101'])).removed.length, 0, 'a second edit changes nothing')
  t.throws(() => withoutNodes('network: {}\n', new Set()), { code: 'rke.bad-config' })
})

t.test('the edited file is written atomically with a .bak', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-rke-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const f = path.join(dir, 'cluster.yml')
  fs.writeFileSync(f, fixture)
  writeRkeConfig(f, withoutNodes(fixture, new Set(['192.168.31.101'])).text)
  t.equal(fs.readFileSync(`${f}.bak`, 'utf8'), fixture)
  t.notMatch(fs.readFileSync(f, 'utf8'), /192\.168\.31\.101/)
  t.same(fs.readdirSync(dir).sort(), ['cluster.yml', 'cluster.yml.bak'])
})
