// age encryption as stream stages. age-encryption streams over WHATWG streams in 64 KiB STREAM chunks; these
// adapters feed it from a Node stream on demand (pull), so only a few chunks are ever in memory.
import { Decrypter, Encrypter, identityToRecipient } from 'age-encryption'

type Stage = (source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer>

/** A WHATWG ReadableStream that pulls one chunk at a time from a Node async iterable (keeps backpressure). */
function pullFrom(source: AsyncIterable<Buffer>): ReadableStream<Uint8Array> {
  const it = source[Symbol.asyncIterator]()
  return new ReadableStream<Uint8Array>(
    {
      async pull(ctrl) {
        const r = await it.next()
        if (r.done) ctrl.close()
        else ctrl.enqueue(new Uint8Array(r.value.buffer, r.value.byteOffset, r.value.byteLength))
      },
      async cancel() {
        await it.return?.()
      },
    },
    { highWaterMark: 0 },
  )
}

async function* drain(out: ReadableStream<Uint8Array>): AsyncGenerator<Buffer> {
  for await (const chunk of out as unknown as AsyncIterable<Uint8Array>) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
}

export function ageEncrypt(recipients: string[]): Stage {
  const enc = new Encrypter()
  for (const r of recipients) enc.addRecipient(r)
  return async function* (source) {
    yield* drain(await enc.encrypt(pullFrom(source)))
  }
}

export class AgeKeyError extends Error {}

/** The header is checked before the first byte comes out: a wrong key fails with AgeKeyError at once. */
export function ageDecrypt(identities: string[]): Stage {
  const dec = new Decrypter()
  for (const i of identities) dec.addIdentity(i)
  return async function* (source) {
    let out: ReadableStream<Uint8Array>
    try {
      out = await dec.decrypt(pullFrom(source))
    } catch (e) {
      const msg = (e as Error).message
      if (/no identity matched|invalid header HMAC/.test(msg)) throw new AgeKeyError(msg)
      throw e
    }
    yield* drain(out)
  }
}

/** Identities from an age identity file (AGE-SECRET-KEY-… lines; comments and blanks ignored). */
export function parseIdentityFile(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('AGE-SECRET-KEY-'))
}

export async function recipientsOf(identities: string[]): Promise<string[]> {
  return Promise.all(identities.map((i) => identityToRecipient(i)))
}
