// One operator at a time: a lock file in the cluster's state directory, created exclusively, naming its owner,
// and a lock on the cluster's own hosts that an operator on another machine sees too.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import crypto from 'node:crypto'
import { DrError } from '../core/error.ts'
import type { Output } from '../core/output.ts'
import type { TransportSource } from '../etcd/client.ts'
import type { Transport } from '../transport/types.ts'
import { isUnreachable } from '../cluster/fence-state.ts'

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

// ---- the lock on the cluster's own hosts -------------------------------------------------------------------
// Two operators on two laptops do not share a state directory, so the local lock cannot see the other one. The
// hosts a run acts on can: `mkdir` is atomic on every filesystem, so the first run to create HOST_LOCK_DIR on a
// host owns it there. The owner file names user, machine, pid and runbook; its mtime on the host (the host's
// own clock, so laptops' clocks do not matter) is the heartbeat, touched every HEARTBEAT_MS while the run lasts.

export const HOST_LOCK_DIR = '/var/lib/dr/lock'
const OWNER_FILE = `${HOST_LOCK_DIR}/owner.json`
export const HEARTBEAT_MS = 5_000
/** A host lock whose heartbeat is older than this is stale: its run is gone. */
export const STALE_AFTER_S = 30

export interface HostLockOwner extends LockOwner {
  token: string
  host: string
}

export interface HostLock {
  hosts: string[]
  release(): Promise<void>
}

interface HostLockSource {
  conns: TransportSource
  out?: Output
}

type Held = { acquired: true } | { acquired: false; ageS: number; owner?: HostLockOwner }

async function tryTake(t: Transport, me: HostLockOwner): Promise<Held> {
  const json = JSON.stringify(me)
  const r = await t.$`mkdir -p /var/lib/dr
if mkdir ${HOST_LOCK_DIR} 2>/dev/null; then printf '%s\n' ${json} > ${OWNER_FILE}.tmp && mv ${OWNER_FILE}.tmp ${OWNER_FILE} && echo ACQUIRED
else echo HELD; echo $(( $(date +%s) - $(stat -c %Y ${OWNER_FILE} 2>/dev/null || stat -c %Y ${HOST_LOCK_DIR}) )); cat ${OWNER_FILE} 2>/dev/null || true; fi`
  const [first, age, ...rest] = r.stdout.split('\n')
  if (first.trim() === 'ACQUIRED') return { acquired: true }
  let owner: HostLockOwner | undefined
  const text = rest.join('\n').trim()
  // An owner file that does not parse is being written right now (or was cut short): the age decides.
  if (text) owner = parseOwner(text)
  return { acquired: false, ageS: Number(age), owner }
}

function parseOwner(text: string): HostLockOwner | undefined {
  try {
    return JSON.parse(text) as HostLockOwner
  } catch (e) {
    void e // a half-written owner file: treated as an owner we cannot name (its heartbeat age still decides)
    return undefined
  }
}

/** Stale: its heartbeat stopped, or its run was on this machine and that process is gone. */
export const isStaleHostLock = (h: { ageS: number; owner?: HostLockOwner }) => h.ageS > STALE_AFTER_S || (!!h.owner && isStale(h.owner))

/** Move a lock aside only if it is still the one we judged (same token), so two breakers cannot both win. */
async function breakHostLock(t: Transport, owner: HostLockOwner | undefined): Promise<void> {
  const aside = `${HOST_LOCK_DIR}.broken-${Date.now()}-${process.pid}`
  if (owner?.token) await t.$`if grep -qF ${owner.token} ${OWNER_FILE} 2>/dev/null; then mv ${HOST_LOCK_DIR} ${aside}; fi`
  else await t.$`if [ -d ${HOST_LOCK_DIR} ]; then mv ${HOST_LOCK_DIR} ${aside}; fi`
}

const describeOwner = (o: HostLockOwner | undefined, ageS: number) =>
  o ? `${o.user}@${o.hostname} (pid ${o.pid}) has been running ${o.runbook} since ${o.since} (heartbeat ${ageS} s ago)` : `someone is taking it right now (no owner written yet, ${ageS} s ago)`

/**
 * Take the lock on each host (in name order, so two runs cannot each hold half), skipping hosts that do not
 * answer on TCP. Refused (exit 3) naming the owner when another live run holds any of them.
 */
export async function acquireHostLocks(src: HostLockSource, hostNames: string[], runbook: string, opts: { breakLock?: boolean } = {}): Promise<HostLock> {
  const me: HostLockOwner = { user: os.userInfo().username, hostname: os.hostname(), pid: process.pid, runbook, since: new Date().toISOString(), token: crypto.randomUUID(), host: '' }
  const taken: Array<{ host: string; t: Transport }> = []
  const lock: HostLock = { hosts: [], release: () => releaseAll() }
  let timer: NodeJS.Timeout | undefined
  async function releaseAll() {
    if (timer) clearInterval(timer)
    await Promise.all(
      taken.splice(0).map(({ host, t }) =>
        t.$`if grep -qF ${me.token} ${OWNER_FILE} 2>/dev/null; then rm -rf ${HOST_LOCK_DIR}; fi`.nothrow().then((r) => {
          if (!r.ok) src.out?.warn(`could not release the dr lock ${HOST_LOCK_DIR} on ${host}: ${r.stderr.trim()} — remove it by hand once this run is over`)
        }),
      ),
    )
  }
  try {
    for (const host of [...new Set(hostNames)].sort()) {
      let t: Transport
      try {
        t = await src.conns.get(host)
      } catch (e) {
        if (isUnreachable(e)) {
          src.out?.warn(`${host} does not answer (${(e as DrError).code}): the dr lock is not taken there`)
          continue
        }
        throw e
      }
      const owner = { ...me, host }
      let held = await tryTake(t, owner)
      if (!held.acquired && (opts.breakLock || isStaleHostLock(held))) {
        src.out?.warn(`breaking the dr lock on ${host}: ${describeOwner(held.owner, held.ageS)}${opts.breakLock ? ' (--break-lock)' : ' — its heartbeat stopped'}`)
        await breakHostLock(t, held.owner)
        held = await tryTake(t, owner)
      }
      if (!held.acquired) {
        throw new DrError({
          code: 'runbook.locked',
          host,
          message: `the cluster is locked on ${host}: ${describeOwner(held.owner, held.ageS)}`,
          hint: `wait for that run to finish (its lock is ${HOST_LOCK_DIR} on ${host}); a lock whose heartbeat stopped for ${STALE_AFTER_S} s is broken automatically, --break-lock breaks a live one`,
          exit: 'refused',
        })
      }
      taken.push({ host, t })
      lock.hosts.push(host)
    }
  } catch (e) {
    await releaseAll()
    throw e
  }
  timer = setInterval(() => {
    for (const { host, t } of taken) {
      void t.$`grep -qF ${me.token} ${OWNER_FILE} && touch ${OWNER_FILE}`.nothrow().then(
        (r) => r.ok || src.out?.warn(`the dr lock on ${host} is no longer this run's (${r.stderr.trim() || 'taken over'}): another operator may be acting on the cluster`),
        (e: unknown) => src.out?.warn(`heartbeat of the dr lock on ${host} failed: ${(e as Error).message}`),
      )
    }
  }, HEARTBEAT_MS)
  timer.unref()
  return lock
}

/** The hosts a run locks: what the runbook declares, else the hosts its steps act on. */
export async function lockRunbookHosts<F>(
  rb: { name: string; lockHosts?(facts: F): string[]; steps(facts: F, options: Record<string, unknown>): Array<{ host?: string }> },
  facts: F,
  o: HostLockSource & { options: Record<string, unknown>; breakLock?: boolean },
): Promise<HostLock> {
  const hosts = rb.lockHosts?.(facts) ?? rb.steps(facts, o.options).flatMap((s) => (s.host ? [s.host] : []))
  return acquireHostLocks(o, hosts, rb.name, { breakLock: o.breakLock })
}
