// DockerExecTransport against a real container on the local docker: exec, quoting, exit codes, timeout (the
// command inside is killed too), files, streams, and a TCP tunnel to the container's IP.
import t from 'tap'
import { once } from 'node:events'
import net from 'node:net'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import { runLocal } from '../../src/transport/local.ts'
import { DockerExecTransport } from '../../src/transport/docker-exec.ts'
import { ensureTestImages } from '../helpers/docker-image.ts'

// Real processes on a busy machine: more than tap's default 30 s per file.
t.setTimeout(240_000)

const name = `drtest-dx-${process.pid}`
let h: DockerExecTransport

t.before(async () => {
  await ensureTestImages()
  const r = await runLocal(['docker', 'run', '-d', '--label', 'dr.test=1', '--name', name, 'drtest-img:base'])
  if (!r.ok) throw new Error(r.stderr)
  h = new DockerExecTransport('kind1', name)
})
t.teardown(async () => {
  await h?.close()
  await runLocal(['docker', 'rm', '-f', name])
})

const hostile = ['$(touch /tmp/pwned)', '`id`', "it's", 'a "b" c', 'line1\nline2', 'x; rm -rf /nope', '', '\\', "'", '-n', '*']

t.test('exec: output, exit codes, quoting', async (t) => {
  const r = await h.$`echo out; echo err >&2`
  t.match(r, { host: 'kind1', exitCode: 0, stdout: 'out\n', stderr: 'err\n', ok: true })
  const all = await h.$`printf '%s\\0' ${hostile}`
  t.same(all.stdout.split('\0').slice(0, -1), hostile)
  t.equal((await h.$`test -e /tmp/pwned`.nothrow()).exitCode, 1, 'nothing ran from a value')
  t.equal((await h.exec('cat', { input: 'in\n' })).stdout, 'in\n')
  await t.rejects(h.$`echo bad >&2; exit 4`, { code: 'command.failed', host: 'kind1', exitStatus: 4, stderr: 'bad' })
})

t.test('timeout: reported, and the command inside the container is killed', async (t) => {
  const r = await h.$.with({ timeoutMs: 500 })`sleep 37; echo never`.nothrow()
  t.equal(r.signal, 'TIMEOUT')
  t.equal(r.stderr, '', 'the PID line is not shown')
  const ps = await h.$`ps`.text()
  t.notMatch(ps, 'sleep 37')
})

t.test('files and streams', async (t) => {
  await h.mkdir('/tmp/d/e')
  const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
  await h.writeFile('/tmp/d/e/f.bin', bytes, { mode: 0o640 })
  t.same(await h.readFile('/tmp/d/e/f.bin'), bytes, 'binary-safe')
  t.equal(await h.$`stat -c %a /tmp/d/e/f.bin`.text(), '640')
  await h.writeFile('/tmp/d/.hidden', 'x')
  t.same(await h.readdir('/tmp/d'), ['.hidden', 'e'], 'dotfiles are listed')
  t.same(await h.readdir('/tmp/none'), [])
  await h.rename('/tmp/d/.hidden', '/tmp/d/shown')
  await h.unlink('/tmp/d/shown')
  t.same(await h.readdir('/tmp/d'), ['e'])
  await t.rejects(h.readFile('/tmp/d/missing'), { code: 'file.not-found', host: 'kind1' })

  const big = Buffer.alloc(2_000_000, 9)
  await pipeline(Readable.from([big]), (await h.createWriteStream('/tmp/big')) as NodeJS.WritableStream)
  t.equal(await h.$`wc -c < /tmp/big`.text(), String(big.length))
  const chunks: Buffer[] = []
  for await (const c of (await h.createReadStream('/tmp/big')) as AsyncIterable<Buffer>) chunks.push(c)
  t.equal(Buffer.concat(chunks).length, big.length)
})

t.test('tunnels: TCP to a port in the container via its IP; command streams without a listener', async (t) => {
  await runLocal(['docker', 'exec', '-d', name, 'nc', '-ll', '-p', '9000', '-e', '/bin/cat'])
  const ips = await h.containerIps()
  t.equal(ips.length, 1)
  let reply = ''
  const tunnel = await h.forward('127.0.0.1', 9000)
  for (let i = 0; i < 20 && reply === ''; i++) {
    reply = await new Promise<string>((resolve) => {
      const s = net.connect(tunnel.localPort, '127.0.0.1', () => s.write('echo me'))
      s.once('data', (d) => {
        s.destroy()
        resolve(d.toString())
      })
      s.once('error', () => resolve(''))
      s.once('close', () => resolve(''))
    })
    if (!reply) await new Promise((r) => setTimeout(r, 100))
  }
  t.equal(reply, 'echo me')
  await tunnel.close()
  const stream = await h.openStream(['cat'])
  stream.write('through docker exec -i')
  const [echoed] = await once(stream, 'data')
  t.equal(echoed.toString(), 'through docker exec -i', 'a command in the container as a byte stream')
  stream.destroy()
  const missing = await h.openStream(['no-such-command'])
  const [err] = await once(missing, 'error')
  t.match(err, { code: 'transport.stream-failed', host: 'kind1' }, 'a command that fails destroys the stream with its error')
  const gone = new DockerExecTransport('ghost', 'drtest-no-such-container')
  await t.rejects(gone.readFile('/etc/hostname'), { code: 'docker-exec.no-container', hint: /docker ps/ })
})
