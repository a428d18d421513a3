import t from 'tap'
import { quote, buildCommand, raw } from '../../src/transport/shell.ts'
import { LocalTransport } from '../../src/transport/local.ts'

const hostile = ['$(touch /tmp/dr-pwned)', '`id`', "it's", 'a "b" c', 'line1\nline2', 'x; rm -rf /nope', '', '{{.Name}}', '\\', "'", '-n', '*', '~root']

t.test('hostile values round-trip through a real shell unchanged', async (t) => {
  const local = new LocalTransport()
  for (const v of hostile) {
    const r = await local.$`printf %s ${v}`
    t.equal(r.stdout, v, `value ${JSON.stringify(v)}`)
  }
  const all = await local.$`printf '%s\\0' ${hostile}`
  t.same(all.stdout.split('\0').slice(0, -1), hostile, 'an array interpolates as several words')
})

t.test('quote leaves plain words alone and quotes the rest', async (t) => {
  t.equal(quote('etcd'), 'etcd')
  t.equal(quote('--name=etcd-n1'), '--name=etcd-n1')
  t.equal(quote('a b'), "'a b'")
  t.equal(quote("it's"), "'it'\\''s'")
  t.equal(buildCommand(Object.assign(['x ', ''], { raw: ['x ', ''] }) as TemplateStringsArray, [raw('| wc')]), 'x | wc')
})

t.test('a failing command throws with host, command and stderr; nothrow makes it data', async (t) => {
  const local = new LocalTransport('here')
  await t.rejects(local.$`echo boom >&2; exit 3`, { code: 'command.failed', host: 'here', exitStatus: 3, stderr: 'boom' })
  const r = await local.$`exit 4`.nothrow()
  t.equal(r.exitCode, 4)
  t.equal(r.ok, false)
  const slow = await local.$.with({ timeoutMs: 200 })`sleep 5`.nothrow()
  t.equal(slow.signal, 'TIMEOUT')
})
