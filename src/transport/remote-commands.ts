// Small POSIX sh commands that the ssh (under sudo) and docker-exec transports run on a host. Paths are quoted
// with quote(); nothing here needs bash, GNU find or coreutils beyond POSIX (busybox images work).
import { quote } from './shell.ts'

/** Entries of a directory as NUL-separated names (dotfiles too); a missing directory prints nothing. */
export const listDirCommand = (dir: string): string =>
  `cd -- ${quote(dir)} 2>/dev/null || exit 0; for f in * .[!.]* ..?*; do [ -e "$f" ] || [ -L "$f" ] || continue; printf '%s\\0' "$f"; done`

/** stdin → file, created private (umask 077) and then given its mode. */
export const writeFileCommand = (path: string, mode: number): string =>
  `umask 077; cat > ${quote(path)} && chmod ${mode.toString(8)} ${quote(path)}`

export const parseNulList = (out: Buffer | string): string[] => out.toString().split('\0').filter(Boolean).sort()

// A command with a timeout first reports its shell's PID on stderr, so that on timeout its whole process group
// can be killed: sshd refuses "signal" requests for root logins, and killing the local ssh/docker client leaves
// the remote command running. sshd and docker exec both start the command's shell as a session leader.
const PID_LINE = /^\x1edr-pid:(\d+)\n/

export const reportPid = (command: string): string => `printf '\\036dr-pid:%s\\n' $$ >&2; ${command}`

/** Split the PID line off the command's own stderr. */
export function splitPid(stderr: Buffer): { pid?: number; rest: Buffer } {
  const m = PID_LINE.exec(stderr.subarray(0, 40).toString('latin1'))
  return m ? { pid: Number(m[1]), rest: stderr.subarray(m[0].length) } : { rest: stderr }
}

export const killGroupCommand = (pid: number): string => `kill -KILL -- -${pid} 2>/dev/null || kill -KILL ${pid} 2>/dev/null; true`
