// A re-creation's progress, in a small JSON file on the host itself: if dr dies between "old renamed" and "new
// verified", the next run finds the old container by id and its original restart policy, and converges.
// Written with shell commands through the transport, so the inventory's sudo applies as it does to docker.
import path from 'node:path'
import { DrError } from '../core/error.ts'
import type { Transport } from '../transport/types.ts'

export const DEFAULT_STATE_DIR = '/var/lib/dr/recreate'

export interface RecreateState {
  name: string
  oldId: string
  oldName: string
  restartPolicy: { Name: string; MaximumRetryCount?: number }
  /** Whether the old one was running: a rollback leaves it as it found it. */
  wasRunning?: boolean
  phase: 'stopping-old' | 'creating-new' | 'starting-new'
  newId?: string
  /** The host's clock (epoch seconds) just before the create call: tells this run's container from others. */
  createAfter?: number
  startedAt: string
  /** Where the state is kept (filled in when read). */
  file?: string
}

const fileOf = (name: string, dir = DEFAULT_STATE_DIR) => path.posix.join(dir, `${name}.json`)

export async function readState(t: Transport, name: string, dir?: string): Promise<RecreateState | undefined> {
  const file = fileOf(name, dir)
  const r = await t.$.with({ doing: `read ${file}` })`if [ -e ${file} ]; then cat ${file}; else echo none; fi`
  if (r.stdout.trim() === 'none') return undefined
  let state: RecreateState
  try {
    state = JSON.parse(r.stdout) as RecreateState
  } catch (e) {
    throw new DrError({ code: 'container.state-corrupt', message: `the re-creation record ${file} on ${t.host} is not JSON: dr cannot tell which container is the old one`, host: t.host, hint: `look at it and at docker ps -a; put the old ${name} back by hand if needed, then move ${file} aside and run again`, exit: 'refused', cause: e })
  }
  if (typeof state.oldId !== 'string' || typeof state.oldName !== 'string' || !state.restartPolicy) {
    throw new DrError({ code: 'container.state-corrupt', message: `the re-creation record ${file} on ${t.host} lacks oldId, oldName or restartPolicy`, host: t.host, hint: `look at it and at docker ps -a, then move ${file} aside and run again`, exit: 'refused' })
  }
  return { ...state, file }
}

export async function writeState(t: Transport, state: RecreateState, dir?: string): Promise<void> {
  const file = fileOf(state.name, dir)
  const { file: _omit, ...data } = state
  await t.$.with({ doing: `record progress in ${file}`, input: JSON.stringify(data, null, 2) + '\n' })`mkdir -p -m 700 ${path.posix.dirname(file)} && umask 077 && cat > ${file + '.tmp'} && mv -f ${file + '.tmp'} ${file}`
}

export async function clearState(t: Transport, name: string, dir?: string): Promise<void> {
  await t.$.with({ doing: 'remove the progress record' })`rm -f ${fileOf(name, dir)}`
}
