// SftpWriteStream's bookkeeping against a scripted SFTP session: answers that come late or out of order, a write
// that fails, and the close that must wait for every answer. The real sshd case is in test/integration/ssh.test.ts.
import t from 'tap'
import { EventEmitter } from 'node:events'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { SFTPWrapper } from 'ssh2'
import { SftpWriteStream } from '../../src/transport/sftp-write-stream.ts'

/** An SFTP session that records every call and answers writes only when the test says so. */
function scripted(opts: { failWriteAt?: number; failFsync?: boolean } = {}) {
  const calls: string[] = []
  const pending: Array<() => void> = []
  let writes = 0
  const sftp = Object.assign(new EventEmitter(), {
    open: (path: string, _flags: string, _attrs: unknown, cb: (e: Error | undefined, h: Buffer) => void) => {
      calls.push(`open ${path}`)
      setImmediate(() => cb(undefined, Buffer.from('h')))
    },
    write: (_h: Buffer, buf: Buffer, off: number, len: number, pos: number, cb: (e?: Error) => void) => {
      const n = writes++
      calls.push(`write ${pos}+${len}`)
      pending.push(() => cb(n === opts.failWriteAt ? Object.assign(new Error('Failure'), { code: 4 }) : undefined))
    },
    fchmod: (_h: Buffer, mode: number, cb: (e?: Error) => void) => {
      calls.push(`fchmod ${mode.toString(8)}`)
      setImmediate(() => cb())
    },
    close: (_h: Buffer, cb: (e?: Error) => void) => {
      calls.push('close')
      setImmediate(() => cb())
    },
    ext_openssh_fsync: (_h: Buffer, cb: (e?: Error) => void) => {
      calls.push('fsync')
      setImmediate(() => cb(opts.failFsync ? Object.assign(new Error('No space left on device'), { code: 4 }) : undefined))
    },
  })
  return {
    emitter: sftp,
    sftp: sftp as unknown as SFTPWrapper,
    calls,
    /** Answer the oldest write still waiting (or the newest: answers may come in any order). */
    answer: (newest = false) => (newest ? pending.pop() : pending.shift())?.(),
    get waiting() {
      return pending.length
    },
  }
}

const error = (doing: string, e: unknown) => new Error(`cannot ${doing}: ${(e as Error).message}`)
const chunks = (n: number, size: number) => Array.from({ length: n }, () => Buffer.alloc(size, 1))
const tick = () => new Promise((r) => setImmediate(r))

t.test('writes go out until the window is full, and the file is closed only after every answer', async (t) => {
  const s = scripted()
  const done = pipeline(Readable.from(chunks(6, 100)), new SftpWriteStream(s.sftp, '/x', { mode: 0o600, window: 300, error }))
  for (let i = 0; i < 5; i++) await tick()
  t.equal(s.waiting, 3, 'three writes of 100 bytes are out against a 300-byte window; the fourth waits for room')
  t.same(s.calls.slice(0, 4), ['open /x', 'write 0+100', 'write 100+100', 'write 200+100'], 'each at its own offset')
  s.answer(true) // the newest answer first
  for (let i = 0; i < 5; i++) await tick()
  t.equal(s.waiting, 3, 'one answer makes room for one more write')
  while (s.calls.filter((c) => c.startsWith('write')).length < 6 || s.waiting > 0) {
    t.notOk(s.calls.includes('close'), 'not closed while a write is unanswered')
    s.answer()
    await tick()
  }
  await done
  t.same(s.calls.slice(-2), ['fchmod 600', 'close'], 'the mode is set, then the file closed, after the last answer')
  t.same(s.calls.filter((c) => c.startsWith('write')).map((c) => c.split(' ')[1]), ['0+100', '100+100', '200+100', '300+100', '400+100', '500+100'])
})

t.test('a write that fails fails the stream with its error named, and nothing more is written', async (t) => {
  const s = scripted({ failWriteAt: 1 })
  const done = pipeline(Readable.from(chunks(10, 100)), new SftpWriteStream(s.sftp, '/x', { mode: 0o600, window: 300, error }))
  done.catch(() => undefined)
  for (let i = 0; i < 20 && !s.calls.includes('close'); i++) {
    s.answer()
    await tick()
  }
  await t.rejects(done, { message: 'cannot write: Failure' })
  const written = s.calls.filter((c) => c.startsWith('write')).length
  t.ok(written <= 4, `writes stop at the window after the failure (${written} sent of 10)`)
  t.notOk(s.calls.includes('fchmod 600'), 'a failed file is not given its mode as if it were whole')
  t.ok(s.calls.includes('close'), 'the handle is closed')
})

t.test('an SFTP session that closes with writes unanswered fails the stream instead of leaving it waiting', async (t) => {
  const s = scripted()
  const stream = new SftpWriteStream(s.sftp, '/x', { mode: 0o600, window: 300, error })
  const done = pipeline(Readable.from(chunks(10, 100)), stream)
  done.catch(() => undefined)
  for (let i = 0; i < 5; i++) await tick()
  t.equal(s.waiting, 3, 'the window is full, and no answer will come')
  s.emitter.emit('close') // ssh2 sends nothing on a closed channel, and answers nothing sent after
  await t.rejects(done, { message: 'cannot write: the SFTP session closed' })
  t.equal(s.emitter.listenerCount('close'), 0, 'the stream no longer listens to the session')
})

t.test('fsync: after every answer and the mode, before the close; without it, no fsync at all', async (t) => {
  for (const fsync of [true, false]) {
    const s = scripted()
    const done = pipeline(Readable.from(chunks(4, 100)), new SftpWriteStream(s.sftp, '/x', { mode: 0o600, window: 250, fsync, error }))
    for (let i = 0; i < 20; i++) {
      await tick()
      s.answer(true)
    }
    await done
    const tail = s.calls.slice(s.calls.indexOf('fchmod 600'))
    t.same(tail, fsync ? ['fchmod 600', 'fsync', 'close'] : ['fchmod 600', 'close'], `fsync: ${fsync}`)
    t.equal(s.calls.filter((c) => c.startsWith('write')).length, 4, 'every write went out before')
  }
})

t.test('a failed fsync fails the stream: the file is not called written', async (t) => {
  const s = scripted({ failFsync: true })
  const done = pipeline(Readable.from(chunks(2, 100)), new SftpWriteStream(s.sftp, '/x', { mode: 0o600, fsync: true, error }))
  done.catch(() => undefined) // checked below, after the answers
  for (let i = 0; i < 10; i++) {
    await tick()
    s.answer()
  }
  await t.rejects(done, { message: 'cannot fsync: No space left on device' })
  t.ok(s.calls.includes('close'), 'the handle is still closed')
})
