// The age stages write and read standard age files: the `age` CLI and the age-encryption library decrypt what
// AgeEncryptStream writes, and AgeDecryptStream reads what they write, at the chunk boundaries that matter.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable, type Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { Decrypter, Encrypter, generateIdentity, identityToRecipient } from 'age-encryption'
import { AgeKeyError, ageDecrypt, ageEncrypt } from '../../src/backup/age-stream.ts'

const KiB = 1024
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-age-test-'))
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))

async function run(stage: Transform, input: Buffer, chunk: number): Promise<Buffer> {
  const parts: Buffer[] = []
  for (let i = 0; i < input.length; i += chunk) parts.push(input.subarray(i, i + chunk))
  const out: Buffer[] = []
  await pipeline(Readable.from(parts), stage, async function* (src) {
    for await (const b of src) out.push(b as Buffer)
  })
  return Buffer.concat(out)
}

const identity = await generateIdentity()
const recipient = await identityToRecipient(identity)
const keyFile = path.join(dir, 'key.txt')
fs.writeFileSync(keyFile, `# test key\n${identity}\n`)
const ageCli = (args: string[], input: Buffer) => execFileSync('age', args, { input, maxBuffer: 64 << 20 })

const sizes: Array<[string, number]> = [
  ['empty', 0],
  ['1 byte', 1],
  ['exactly 64 KiB', 64 * KiB],
  ['64 KiB + 1', 64 * KiB + 1],
  ['exactly two chunks', 128 * KiB],
  ['3 MiB and a bit', 3 * 1024 * KiB + 12_345],
]

for (const [name, size] of sizes) {
  t.test(`${name}: age -d, age-encryption and our decryptor give the plaintext back`, async (t) => {
    const plain = crypto.randomBytes(size)
    // Odd input chunking: chunks straddle the 64 KiB boundaries.
    const file = await run(ageEncrypt([recipient]), plain, 99_991)
    const headerLength = file.indexOf('\n', file.indexOf('\n--- ') + 1) + 1
    const chunks = Math.max(1, Math.ceil(size / (64 * KiB)))
    t.equal(file.length, headerLength + 16 + size + 16 * chunks, 'header, nonce, and one 16-byte tag per 64 KiB chunk')
    t.ok(ageCli(['-d', '-i', keyFile], file).equals(plain), 'the age CLI decrypts it')
    const dec = new Decrypter()
    dec.addIdentity(identity)
    t.ok(Buffer.from(await dec.decrypt(file)).equals(plain), 'age-encryption decrypts it')
    t.ok((await run(ageDecrypt([identity]), file, 7_777)).equals(plain), 'our decryptor reads it')
  })
}

t.test('our decryptor reads what the age CLI and age-encryption write', async (t) => {
  for (const size of [0, 64 * KiB, 64 * KiB + 1, 2 * 1024 * KiB + 3]) {
    const plain = crypto.randomBytes(size)
    const fromCli = ageCli(['-e', '-r', recipient], plain)
    t.ok((await run(ageDecrypt([identity]), fromCli, 65_536)).equals(plain), `age -e, ${size} bytes`)
    const enc = new Encrypter()
    enc.addRecipient(recipient)
    const fromLib = Buffer.from(await enc.encrypt(plain))
    t.ok((await run(ageDecrypt([identity]), fromLib, 1_000_003)).equals(plain), `age-encryption, ${size} bytes`)
  }
})

t.test('no recipient: refused, rather than a file nobody can open', async (t) => {
  await t.rejects(run(ageEncrypt([]), Buffer.from('x'), 1), /at least one recipient/)
})

t.test('several recipients: each identity decrypts', async (t) => {
  const other = await generateIdentity()
  const plain = crypto.randomBytes(100 * KiB)
  const file = await run(ageEncrypt([recipient, await identityToRecipient(other)]), plain, 32 * KiB)
  t.ok((await run(ageDecrypt([other]), file, 4096)).equals(plain))
  t.ok(ageCli(['-d', '-i', keyFile], file).equals(plain))
})

t.test('wrong key, damaged, truncated or extended files are refused', async (t) => {
  const plain = crypto.randomBytes(200 * KiB)
  const file = await run(ageEncrypt([recipient]), plain, 50_000)
  const wrongKey = await run(ageDecrypt([await generateIdentity()]), file, 4096).catch((e: unknown) => e)
  t.ok(wrongKey instanceof AgeKeyError, `another key: AgeKeyError (${String(wrongKey)})`)
  const damaged = Buffer.from(file)
  damaged[damaged.length - 100_000] ^= 1 // in the second sealed chunk (the last is 8 KiB, the one before 64 KiB)
  await t.rejects(run(ageDecrypt([identity]), damaged, 4096), /chunk 1 failed authentication/)
  // Cut exactly after the second sealed chunk: it was sealed as not-last, so it cannot pass as the end.
  const head = file.length - (200 * KiB + 4 * 16) // header ‖ nonce
  await t.rejects(run(ageDecrypt([identity]), file.subarray(0, head + 2 * (64 * KiB + 16)), 4096), /last chunk \(1\) failed/)
  await t.rejects(run(ageDecrypt([identity]), Buffer.concat([file, Buffer.alloc(16)]), 4096), /failed authentication/)
  await t.rejects(run(ageDecrypt([identity]), file.subarray(0, 40), 4096), /ends inside its header/)
  t.ok(ageCli(['-d', '-i', keyFile], file).equals(plain), 'the undamaged file still decrypts')
})
