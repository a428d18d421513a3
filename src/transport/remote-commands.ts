// Small POSIX sh commands that the ssh (under sudo) and docker-exec transports run on a host. Paths are quoted
// with POSIX quotes (they run under `sh -c`); nothing here needs bash, GNU find or coreutils beyond POSIX.
import path from 'node:path'
import { shQuote as quote } from './sh-quote.ts'

/** Entries of a directory as NUL-separated names (dotfiles too); a missing directory prints nothing. */
export const listDirCommand = (dir: string): string =>
  `cd -- ${quote(dir)} 2>/dev/null || exit 0; for f in * .[!.]* ..?*; do [ -e "$f" ] || [ -L "$f" ] || continue; printf '%s\\0' "$f"; done`

/**
 * fsync one file or directory by name. `sync FILE` does that (coreutils ≥ 8.24, busybox ≥ 1.26); an older `sync`
 * that refuses the argument syncs every filesystem instead, which is slower and as safe.
 */
export const syncCommand = (file: string): string => `{ sync -- ${quote(file)} 2>/dev/null || sync; }`

/** stdin → file, created private (umask 077) and then given its mode; durable: fsynced before the command ends. */
export const writeFileCommand = (file: string, mode: number, durable = false): string =>
  `umask 077; cat > ${quote(file)} && chmod ${mode.toString(8)} ${quote(file)}${durable ? ` && ${syncCommand(file)}` : ''}`

/** rename(2), replacing `to`; durable: the directory holding `to` is fsynced after, so the new name survives a crash. */
export const renameCommand = (from: string, to: string, durable = false): string =>
  `mv -f -- ${quote(from)} ${quote(to)}${durable ? ` && ${syncCommand(path.posix.dirname(to))}` : ''}`

export const parseNulList = (out: Buffer | string): string[] => out.toString().split('\0').filter(Boolean).sort()

export { splitPid } from './remote-child.ts'
