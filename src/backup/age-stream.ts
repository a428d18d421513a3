// age v1 (https://age-encryption.org/v1) as Node stream stages. The header (recipient stanzas and its MAC) comes
// from age-encryption, which knows X25519 and the post-quantum recipients; the payload, where all the bytes are,
// goes through Node's native ChaCha20-Poly1305 (OpenSSL): about 2 GB per CPU-second here, against 110 MiB for the
// library's JavaScript one, which made encryption a third of the pipeline's CPU. The output is standard age: the
// `age` CLI and age-encryption decrypt it (test/unit/backup-age.test.ts).
//
// Payload: a 16-byte nonce after the header; key = HKDF-SHA256(file key, salt = nonce, info "payload"); the
// plaintext in 64 KiB chunks, each sealed with nonce = 11-byte big-endian chunk counter ‖ last-chunk flag, and
// followed by its 16-byte tag. Only the last chunk may be short, and it is empty only when the whole file is.
import { createCipheriv, createDecipheriv, hkdfSync, timingSafeEqual } from 'node:crypto'
import { Transform, type TransformCallback } from 'node:stream'
import { ByteQueue } from './byte-queue.ts'
import { Decrypter, Encrypter, identityToRecipient } from 'age-encryption'
import { STAGE_BYTES } from './stage.ts'

const CHUNK = 64 * 1024
const TAG = 16
const NONCE = 16
/** No real header comes near this (a post-quantum stanza is about 1.6 KiB); more means it is not age. */
const MAX_HEADER = 1 << 20

export class AgeKeyError extends Error {
  override name = 'AgeKeyError'
}

function payloadKey(fileKey: Uint8Array, nonce: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32))
}

function chunkNonce(counter: number, last: boolean): Buffer {
  const n = Buffer.alloc(12)
  n.writeUIntBE(counter, 5, 6) // the counter's high 5 bytes stay 0: 2^48 chunks would be 16 EiB
  n[11] = last ? 1 : 0
  return n
}

function seal(key: Buffer, counter: number, last: boolean, plain: Buffer): Buffer[] {
  const c = createCipheriv('chacha20-poly1305', key, chunkNonce(counter, last), { authTagLength: TAG })
  const body = c.update(plain)
  c.final()
  return [body, c.getAuthTag()]
}

/** Open one sealed chunk; null when its tag does not match (wrong position, flag, key, or damaged bytes). */
function open(key: Buffer, counter: number, last: boolean, sealed: Buffer): Buffer | null {
  const d = createDecipheriv('chacha20-poly1305', key, chunkNonce(counter, last), { authTagLength: TAG })
  d.setAuthTag(sealed.subarray(sealed.length - TAG))
  const body = d.update(sealed.subarray(0, sealed.length - TAG))
  try {
    d.final()
  } catch (e) {
    // OpenSSL's only answer for a tag that does not match; the caller names the chunk.
    if (/unable to authenticate/i.test((e as Error).message)) return null
    throw e
  }
  return body
}

/**
 * A new file's header and nonce, and its payload key. age-encryption writes the header; a recipient of our own
 * that adds no stanza sees the file key it wraps. The library's encryption of an empty file is header ‖ nonce ‖
 * the empty last chunk's tag: that tag, recomputed here, proves the bytes were cut where this code thinks.
 */
async function newFile(recipients: string[]): Promise<{ head: Buffer; key: Buffer }> {
  // Our own recipient adds no stanza: without a real one the file could be opened by nobody.
  if (recipients.length === 0) throw new Error('age: encrypting needs at least one recipient')
  let fileKey: Uint8Array | undefined
  const enc = new Encrypter()
  for (const r of recipients) enc.addRecipient(r)
  enc.addRecipient({ wrapFileKey: (k: Uint8Array) => ((fileKey = Uint8Array.from(k)), []) })
  const empty = Buffer.from(await enc.encrypt(new Uint8Array(0)))
  const head = empty.subarray(0, empty.length - TAG)
  const key = payloadKey(fileKey!, head.subarray(head.length - NONCE))
  if (!timingSafeEqual(seal(key, 0, true, Buffer.alloc(0))[1], empty.subarray(empty.length - TAG))) {
    throw new Error('age-encryption wrote a file this code does not understand (an empty file is not header ‖ nonce ‖ tag)')
  }
  return { head: Buffer.from(head), key }
}

/** Plaintext in, an age file out. */
export class AgeEncryptStream extends Transform {
  private file?: { head: Buffer; key: Buffer }
  private readonly pending = new ByteQueue()
  private counter = 0
  private headWritten = false

  constructor(private readonly recipients: string[]) {
    super({ readableHighWaterMark: STAGE_BYTES })
  }

  override _construct(cb: (e?: Error | null) => void): void {
    newFile(this.recipients).then((f) => ((this.file = f), cb()), cb)
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.pending.add(chunk)
    const out = this.takeHead()
    // A chunk is sealed as not-last only once a byte after it has arrived.
    while (this.pending.bytes > CHUNK) out.push(...seal(this.file!.key, this.counter++, false, this.pending.take(CHUNK)))
    cb(null, out.length > 0 ? Buffer.concat(out) : undefined)
  }

  override _flush(cb: TransformCallback): void {
    const out = this.takeHead()
    out.push(...seal(this.file!.key, this.counter++, true, this.pending.take(this.pending.bytes)))
    cb(null, Buffer.concat(out))
  }

  private takeHead(): Buffer[] {
    if (this.headWritten) return []
    this.headWritten = true
    return [this.file!.head]
  }
}

export function ageEncrypt(recipients: string[]): AgeEncryptStream {
  return new AgeEncryptStream(recipients)
}

/** An age file in, its plaintext out. The header is checked before the first byte comes out: a wrong key fails
 * with AgeKeyError at once; a damaged, truncated or extended payload fails at the chunk where it shows. */
export class AgeDecryptStream extends Transform {
  private readonly dec = new Decrypter()
  private headBuf: Buffer = Buffer.alloc(0)
  private key?: Buffer
  private readonly pending = new ByteQueue()
  private counter = 0

  constructor(identities: string[]) {
    super({ readableHighWaterMark: STAGE_BYTES })
    for (const i of identities) this.dec.addIdentity(i)
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const openAll = () => {
      try {
        cb(null, this.key ? this.openFull() : undefined)
      } catch (e) {
        cb(e as Error)
      }
    }
    if (this.key) {
      this.pending.add(chunk)
      return openAll()
    }
    this.readHeader(chunk).then(openAll, cb)
  }

  override _flush(cb: TransformCallback): void {
    if (!this.key) return cb(new Error('age: the file ends inside its header'))
    const rest = this.pending.bytes
    if (rest < TAG || (rest === TAG && this.counter > 0)) return cb(new Error(`age: the file is truncated (chunk ${this.counter} is ${rest} bytes)`))
    const plain = open(this.key, this.counter, true, this.pending.take(rest))
    if (!plain) return cb(new Error(`age: the last chunk (${this.counter}) failed authentication: the file is damaged, or cut short at a chunk boundary`))
    cb(null, plain)
  }

  /** Every chunk known not to be the last: more bytes follow it. */
  private openFull(): Buffer | undefined {
    const out: Buffer[] = []
    while (this.pending.bytes > CHUNK + TAG) {
      const plain = open(this.key!, this.counter, false, this.pending.take(CHUNK + TAG))
      if (!plain) throw new Error(`age: chunk ${this.counter} failed authentication: the file is damaged`)
      this.counter++
      out.push(plain)
    }
    return out.length > 0 ? Buffer.concat(out) : undefined
  }

  private async readHeader(chunk: Buffer): Promise<void> {
    const buf = Buffer.concat([this.headBuf, chunk])
    // The header ends with the MAC line: "---" and a space, the MAC, a newline.
    const mac = buf.indexOf('\n--- ')
    const end = mac < 0 ? -1 : buf.indexOf('\n', mac + 1)
    if (end < 0 || buf.length < end + 1 + NONCE) {
      if (buf.length > MAX_HEADER) throw new Error('age: no header end in the first MiB: not an age file')
      this.headBuf = buf
      return
    }
    let fileKey: Uint8Array
    try {
      fileKey = await this.dec.decryptHeader(buf.subarray(0, end + 1))
    } catch (e) {
      const msg = (e as Error).message
      if (/no identity matched|invalid header HMAC/.test(msg)) throw new AgeKeyError(msg)
      throw e
    }
    this.key = payloadKey(fileKey, buf.subarray(end + 1, end + 1 + NONCE))
    this.headBuf = Buffer.alloc(0)
    this.pending.add(buf.subarray(end + 1 + NONCE))
  }
}

export function ageDecrypt(identities: string[]): AgeDecryptStream {
  return new AgeDecryptStream(identities)
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
