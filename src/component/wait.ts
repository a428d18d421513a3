// Small shared pieces of the component kinds: polling with a useful timeout error, and an edit in words.
import { DrError } from '../core/error.ts'
import type { ComponentEdit } from './types.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Poll `probe` every 500 ms until it returns a value; on timeout a DrError carrying `evidence()`. */
export async function pollUntil<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, evidence: () => Promise<string>, hint: string, host: string): Promise<T> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() >= until) break
    await sleep(500)
  }
  throw new DrError({ code: 'component.timeout', message: `no ${what} within ${Math.round(timeoutMs / 1000)} s`, host, stderr: await evidence().catch((e) => String(e)), hint: `look at ${hint}` })
}

export function describeEdit(e: ComponentEdit): string {
  const parts = [
    ...Object.entries(e.setArgs ?? {}).map(([k, v]) => `${k}=${v}`),
    ...(e.addArgs ?? []).map((a) => `add ${a}`),
    ...(e.removeArgs ?? []).map((a) => `remove ${a}`),
    ...(e.restartPolicy ? [`restart=${e.restartPolicy.Name}`] : []),
  ]
  return parts.length ? ` (${parts.join(', ')})` : ''
}
