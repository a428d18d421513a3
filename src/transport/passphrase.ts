// The passphrase of an encrypted key: from the environment variable the inventory names, else asked for once on a
// terminal (a fan-out over many hosts must not ask once per host), else not at all.
import readline from 'node:readline'
import ssh2 from 'ssh2'

/** Does this private key need a passphrase? */
export function isEncryptedKey(key: Buffer): boolean {
  const parsed = ssh2.utils.parseKey(key)
  return parsed instanceof Error && /passphrase|encrypted/i.test(parsed.message)
}

const asked = new Map<string, Promise<string>>()

function askHidden(question: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true })
    // Echo the question but not what is typed.
    const write = (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput.bind(rl)
    ;(rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
      if (s.includes(question)) write(s)
    }
    rl.question(question, (answer) => {
      rl.close()
      process.stderr.write('\n')
      resolve(answer)
    })
  })
}

/** The passphrase for keyFile, or undefined when the key is not encrypted or nobody can be asked. */
export async function passphraseFor(keyFile: string, key: Buffer, envVar?: string): Promise<string | undefined> {
  const fromEnv = envVar ? process.env[envVar] : undefined
  if (fromEnv) return fromEnv
  if (!isEncryptedKey(key)) return undefined
  if (!process.stdin.isTTY || !process.stderr.isTTY) return undefined // the connect error then names passphraseEnv
  if (!asked.has(keyFile)) asked.set(keyFile, askHidden(`passphrase for ${keyFile}: `))
  return asked.get(keyFile)
}
