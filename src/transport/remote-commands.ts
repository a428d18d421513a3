// Small POSIX sh commands that the ssh (under sudo) and docker-exec transports run on a host. Paths are quoted
// with POSIX quotes (they run under `sh -c`); nothing here needs bash, GNU find or coreutils beyond POSIX.
import { shQuote as quote } from './sh-quote.ts'

/** Entries of a directory as NUL-separated names (dotfiles too); a missing directory prints nothing. */
export const listDirCommand = (dir: string): string =>
  `cd -- ${quote(dir)} 2>/dev/null || exit 0; for f in * .[!.]* ..?*; do [ -e "$f" ] || [ -L "$f" ] || continue; printf '%s\\0' "$f"; done`

/** stdin → file, created private (umask 077) and then given its mode. */
export const writeFileCommand = (path: string, mode: number): string =>
  `umask 077; cat > ${quote(path)} && chmod ${mode.toString(8)} ${quote(path)}`

export const parseNulList = (out: Buffer | string): string[] => out.toString().split('\0').filter(Boolean).sort()

export { splitPid } from './remote-child.ts'
