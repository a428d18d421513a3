// coalesceWrites: the pieces ssh2 writes in one tick (an AES-GCM packet's length, body and tag) leave in one
// writev, not one syscall each; the bytes arrive whole and in order, tick after tick.
import t from 'tap'
import net from 'node:net'
import { coalesceWrites } from '../../src/transport/ssh-connect.ts'

t.test('writes of one tick leave together, in order', async (t) => {
  const received: Buffer[] = []
  const server = net.createServer((s) => s.on('data', (d) => received.push(d)))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => server.close())
  const sock = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  await new Promise((r) => sock.once('connect', r))
  sock.setNoDelay(true)
  // What reaches the kernel: one _writev per batch, or one _write per piece.
  const batches: number[] = []
  const writev = sock._writev!.bind(sock)
  const write1 = sock._write.bind(sock)
  sock._writev = (chunks, cb) => (batches.push(chunks.length), writev(chunks, cb))
  sock._write = (chunk, enc, cb) => (batches.push(1), write1(chunk, enc, cb))
  coalesceWrites(sock)

  const packet = (n: number) => [Buffer.from([0, 0, 0, n]), Buffer.alloc(32 << 10, n), Buffer.alloc(16, 255 - n)]
  for (const piece of packet(1)) sock.write(piece)
  t.same(batches, [], 'nothing leaves before the tick ends')
  await new Promise((r) => setImmediate(r))
  t.same(batches, [3], 'the three pieces of one packet leave as one batch')
  for (const piece of [...packet(2), ...packet(3)]) sock.write(piece)
  await new Promise((r) => setImmediate(r))
  t.same(batches, [3, 6], 'the next tick, two packets as one batch')

  const expected = Buffer.concat([...packet(1), ...packet(2), ...packet(3)])
  sock.end()
  await new Promise((r) => setTimeout(r, 100))
  t.ok(Buffer.concat(received).equals(expected), `every byte arrives, in order (${expected.length})`)
})

t.test('anything but a socket (a jump host channel) is left as it is', async (t) => {
  const channel = { write: () => true }
  const before = channel.write
  coalesceWrites(channel)
  t.equal(channel.write, before)
})
