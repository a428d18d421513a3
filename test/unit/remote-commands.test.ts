// The POSIX sh commands the sudo and docker-exec transports run for durable writes and renames, run here by the
// shells a host may have (dash as sh; busybox, whose sh runs its own sync applet whatever PATH says) under strace:
// the file is fsynced before its command ends, the directory after a rename, and awkward names stay one word each.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { renameCommand, writeFileCommand } from '../../src/transport/remote-commands.ts'

const scratch = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dr-remote-commands-')))
t.teardown(() => fs.rmSync(scratch, { recursive: true, force: true }))
const trace = path.join(scratch, 'trace')

const shells = [['sh', '-c'], ...(fs.existsSync('/bin/busybox') ? [['/bin/busybox', 'sh', '-c']] : [])]

/** Run a command; `syncs` is what was fsynced (by path), in order. strace -y names each descriptor's file. */
function run(shell: string[], command: string, input?: string) {
  const r = spawnSync('strace', ['-f', '-qq', '-y', '-e', 'trace=fsync,fdatasync,syncfs', '-o', trace, ...shell, command], { input, encoding: 'utf8' })
  const syncs = fs
    .readFileSync(trace, 'utf8')
    .split('\n')
    .map((l) => /\b(?:fsync|fdatasync|syncfs)\(\d+<([^>]*)>\) = 0/.exec(l)?.[1])
    .filter((x): x is string => x !== undefined)
  return { ...r, syncs }
}

for (const shell of shells) {
  t.test(`${shell[0]}: durable write and rename`, async (t) => {
    const dir = path.join(scratch, shell[0].replaceAll('/', '_'), "a dir with 'quotes' and $x")
    fs.mkdirSync(dir, { recursive: true })
    const tmp = path.join(dir, '.new file.part')
    const dest = path.join(dir, 'new file')

    const w = run(shell, writeFileCommand(tmp, 0o640, true), 'payload\n')
    t.equal(w.status, 0, w.stderr)
    t.equal(fs.readFileSync(tmp, 'utf8'), 'payload\n', 'written')
    t.equal(fs.statSync(tmp).mode & 0o777, 0o640, 'its mode')
    t.same(w.syncs, [tmp], 'the file fsynced, by its own name')

    const plain = run(shell, writeFileCommand(tmp, 0o600), 'again\n')
    t.same(plain.syncs, [], 'not durable: no sync')

    const r = run(shell, renameCommand(tmp, dest, true))
    t.equal(r.status, 0, r.stderr)
    t.equal(fs.readFileSync(dest, 'utf8'), 'again\n', 'renamed')
    t.notOk(fs.existsSync(tmp), 'the old name is gone')
    t.same(r.syncs, [dir], 'then the directory fsynced')

    const failed = run(shell, renameCommand(path.join(dir, 'missing'), dest, true))
    t.not(failed.status, 0, 'a rename that fails fails the command')
    t.same(failed.syncs, [], 'and nothing is synced as if it had worked')
  })
}
