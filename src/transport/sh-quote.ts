// POSIX single quoting, for the few texts a plain /bin/sh reads: the login shell on a host (which may be dash) that
// dr asks to start bash, and a crontab line (SHELL=/bin/sh). Commands dr runs are built by zx, with zx's quote.
const SAFE = /^[A-Za-z0-9_\/.,:=@%+-]+$/

/** One word for any POSIX shell: single quotes keep `$`, backticks and newlines literal; `'` becomes `'\''`. */
export function shQuote(word: string): string {
  if (word !== '' && SAFE.test(word)) return word
  return `'${word.replace(/'/g, `'\\''`)}'`
}

export const shQuoteArgv = (argv: readonly string[]): string => argv.map(shQuote).join(' ')
