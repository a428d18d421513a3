// A JSON file in the state directory that a run trusts as evidence (a failover decision, a restore's state): read
// it whole or refuse — a missing file is "none", anything unreadable, unparsable or malformed stops the run with the
// caller's error naming the file — and write it atomically and durably (src/core/durable.ts; mode 0600).
import fs from 'node:fs'
import path from 'node:path'
import type { DrError } from './error.ts'
import { writeFileDurableSync } from './durable.ts'

export function readStateFile<T>(
  file: string,
  problemOf: (data: unknown) => string | undefined,
  corrupt: (file: string, why: string, cause?: unknown) => DrError,
): T | undefined {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw corrupt(file, `it cannot be read (${(e as Error).message})`, e)
  }
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (e) {
    throw corrupt(file, `it is not valid JSON (${(e as Error).message})`, e)
  }
  const problem = problemOf(data)
  if (problem) throw corrupt(file, problem)
  return data as T
}

export function writeStateFile(file: string, data: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
  writeFileDurableSync(file, JSON.stringify(data, null, 2) + '\n')
}
