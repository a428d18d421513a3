// One operator at a time: a lock file in the cluster's state directory, created exclusively, naming its owner.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { DrError } from '../core/error.ts'

export interface LockOwner {
  user: string
  hostname: string
  pid: number
  runbook: string
  since: string
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export function readLock(stateDir: string): LockOwner | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(stateDir, 'lock'), 'utf8')) as LockOwner
  } catch {
    return undefined
  }
}

/** A lock is stale when its owner ran on this machine and that process is gone. */
export const isStale = (owner: LockOwner) => owner.hostname === os.hostname() && !alive(owner.pid)

export function acquireLock(stateDir: string, runbook: string, opts: { breakLock?: boolean } = {}): () => void {
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 })
  const file = path.join(stateDir, 'lock')
  const me: LockOwner = {
    user: os.userInfo().username,
    hostname: os.hostname(),
    pid: process.pid,
    runbook,
    since: new Date().toISOString(),
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, JSON.stringify(me), { flag: 'wx', mode: 0o600 })
      return () => {
        const cur = readLock(stateDir)
        if (cur && cur.pid === me.pid && cur.hostname === me.hostname) fs.rmSync(file, { force: true })
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
      const owner = readLock(stateDir)
      if (owner && (opts.breakLock || isStale(owner))) {
        fs.rmSync(file, { force: true })
        continue
      }
      throw new DrError({
        code: 'runbook.locked',
        message: owner
          ? `${owner.user}@${owner.hostname} (pid ${owner.pid}) has been running ${owner.runbook} on this cluster since ${owner.since}`
          : `the cluster's lock file ${file} exists`,
        hint: `wait for that run to finish; if it is dead, re-run with --break-lock (the lock is ${file})`,
        exit: 'refused',
      })
    }
  }
  throw new DrError({ code: 'runbook.locked', message: `could not take the lock ${file}`, exit: 'refused' })
}
