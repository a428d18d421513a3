// Poll a lab condition every half second until it holds; then say what was last seen, and what to look at.
import { DrError } from '../core/error.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>, why: () => Promise<string>, hint: string) {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if (await check()) return
    await sleep(500)
  }
  throw new DrError({ code: 'lab.not-ready', message: `${what} within ${timeoutMs / 1000} s`, stderr: await why(), hint })
}
