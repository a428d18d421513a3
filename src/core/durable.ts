// Files on this machine that a run trusts after a crash (a failover decision, a drill's record, the operator's RKE
// config, a safety snapshot): written to a temporary name, fsynced, renamed into place, and the directory fsynced,
// so that after a power cut the name holds either the old content or the whole new one, and a rename that was
// reported done is still there. The journal fsyncs each line itself (src/runbook/journal.ts).
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'

/** fsync a file that is already written and closed, and the directory holding its name. */
export async function fsyncFileAndDir(file: string): Promise<void> {
  const fh = await fsp.open(file, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
  await fsyncDir(path.dirname(file))
}

/**
 * fsync a directory: the names created, renamed or removed in it survive a crash. A filesystem that cannot fsync
 * a directory (EINVAL, EISDIR on some network and FUSE ones) has nothing more to give; any other error is thrown.
 */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r')
  try {
    await fh.sync().catch(unlessUnsupported)
  } finally {
    await fh.close()
  }
}

export function fsyncDirSync(dir: string): void {
  const fd = fs.openSync(dir, 'r')
  try {
    fs.fsyncSync(fd)
  } catch (e) {
    unlessUnsupported(e)
  } finally {
    fs.closeSync(fd)
  }
}

function unlessUnsupported(e: unknown): void {
  const code = (e as NodeJS.ErrnoException).code
  if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'ENOTSUP') throw e
}

/** Replace `file` with `data`: a temporary name beside it, fsynced, renamed, the directory fsynced. */
export function writeFileDurableSync(file: string, data: string | Buffer, mode = 0o600, tmp = `${file}.tmp`): void {
  const fd = fs.openSync(tmp, 'w', mode)
  try {
    fs.writeFileSync(fd, data)
    fs.fchmodSync(fd, mode) // an existing temporary keeps its old mode on open
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  fs.renameSync(tmp, file)
  fsyncDirSync(path.dirname(file))
}
