import t from 'tap'
import fs from 'node:fs'
import { retry, within, $, ProcessPromise } from 'zx'
import { shQuote } from '../../src/transport/sh-quote.ts'
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

t.test("the command is zx's: zx's quote, plain words left alone", async (t) => {
  const local = new LocalTransport()
  t.equal((await local.$`echo ${'etcd'} ${'--name=etcd-n1'}`).command, 'echo etcd --name=etcd-n1')
  t.equal((await local.$`echo ${'a b'} ${"it's"}`).command, "echo $'a b' $'it\\'s'", 'bash $\'…\' words')
  t.ok(local.$`true`.process instanceof ProcessPromise, "zx's ProcessPromise underneath")
  t.throws(() => local.$`echo ${undefined}`, /undefined/, 'a missing value is a bug, not the word "undefined"')
})

t.test('shQuote: POSIX quotes for text /bin/sh reads, round-tripping through dash', async (t) => {
  t.equal(shQuote('etcd'), 'etcd')
  t.equal(shQuote('a b'), "'a b'")
  t.equal(shQuote("it's"), "'it'\\''s'")
  const local = new LocalTransport()
  for (const v of hostile) t.equal((await local.$`dash -c ${'printf %s ' + shQuote(v)}`).stdout, v, `value ${JSON.stringify(v)}`)
})

t.test("what zx brings: pipe, quiet, within, retry", async (t) => {
  const local = new LocalTransport()
  t.equal((await local.$`printf 'b\\na\\n'`.pipe`sort`).stdout, 'a\nb\n', '.pipe into a zx command')
  t.equal((await local.$`echo quiet`.quiet()).stdout, 'quiet\n')
  const env = await within(async () => {
    $.env = { ...process.env, DR_TEST_WITHIN: 'inside' }
    return local.$`printf %s "$DR_TEST_WITHIN"`.text()
  })
  t.equal(env, 'inside', "within's settings reach a transport's $")
  let tries = 0
  const r = await retry(3, () => local.$`exit ${++tries < 3 ? 1 : 0}`)
  t.equal(r.exitCode, 0)
  t.equal(tries, 3, 'retry runs the command again until it succeeds')
})

t.test('a failing command throws with host, command and stderr; nothrow makes it data', async (t) => {
  const local = new LocalTransport('here')
  await t.rejects(local.$`echo boom >&2; exit 3`, { code: 'command.failed', host: 'here', exitStatus: 3, stderr: 'boom' })
  const r = await local.$`exit 4`.nothrow()
  t.equal(r.exitCode, 4)
  t.equal(r.ok, false)
  const started = Date.now()
  const slow = await local.$.with({ timeoutMs: 200 })`sleep 5`.nothrow()
  t.equal(slow.signal, 'TIMEOUT')
  t.ok(Date.now() - started < 3000, 'the timeout returned promptly')
  const input = await local.$.with({ input: 'fed\n' })`cat`
  t.equal(input.stdout, 'fed\n', 'input reaches stdin')
  t.equal((await local.$`cat`).stdout, '', 'no input: stdin is empty, never a wait')
})

t.test('a timeout kills the whole process group', async (t) => {
  const local = new LocalTransport()
  const marker = `/tmp/dr-shell-group-${process.pid}`
  const r = await local.$.with({ timeoutMs: 300 })`(sleep 1.5; touch ${marker}) & wait`.nothrow()
  t.equal(r.signal, 'TIMEOUT')
  await new Promise((res) => setTimeout(res, 2000))
  t.notOk(fs.existsSync(marker), 'the background child was killed with its shell')
})
