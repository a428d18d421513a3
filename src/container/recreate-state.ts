// A re-creation's progress, in a small JSON file on the host itself: if dr dies between "old renamed" and "new
// verified", the next run finds the old container by id and its original restart policy, and converges.
import path from 'node:path'
import type { Transport } from '../transport/types.ts'

export const DEFAULT_STATE_DIR = '/var/lib/dr/recreate'

export interface RecreateState {
  name: string
  oldId: string
  oldName: string
  restartPolicy: { Name: string; MaximumRetryCount?: number }
  phase: 'stopping-old' | 'creating-new' | 'starting-new'
  newId?: string
  startedAt: string
  /** Where the state is kept (filled in when read). */
  file?: string
}

const fileOf = (name: string, dir = DEFAULT_STATE_DIR) => path.posix.join(dir, `${name}.json`)

export async function readState(t: Transport, name: string, dir?: string): Promise<RecreateState | undefined> {
  const file = fileOf(name, dir)
  const entries = await t.readdir(path.posix.dirname(file))
  if (!entries.includes(path.posix.basename(file))) return undefined
  const state = JSON.parse((await t.readFile(file)).toString('utf8')) as RecreateState
  return { ...state, file }
}

export async function writeState(t: Transport, state: RecreateState, dir?: string): Promise<void> {
  const file = fileOf(state.name, dir)
  await t.mkdir(path.posix.dirname(file), { mode: 0o700 })
  const { file: _omit, ...data } = state
  await t.writeFile(`${file}.tmp`, JSON.stringify(data, null, 2) + '\n', { mode: 0o600 })
  await t.rename(`${file}.tmp`, file)
}

export async function clearState(t: Transport, name: string, dir?: string): Promise<void> {
  const file = fileOf(name, dir)
  if ((await t.readdir(path.posix.dirname(file))).includes(path.posix.basename(file))) await t.unlink(file)
}
