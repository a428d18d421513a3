// Docker-in-docker needs every capability the host can grant. `--privileged` asks for all of them and fails
// on hosts whose bounding set lacks one ("unable to apply caps"), so the lab adds exactly those the bounding
// set (CapBnd in /proc/self/status) holds, by name.
import fs from 'node:fs'

/** Linux capability names by bit number (include/uapi/linux/capability.h). */
export const CAPABILITIES = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
  'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
  'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
  'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
] as const

/** Names of the capabilities set in a CapBnd hex mask; bits beyond the known names are ignored. */
export function capsFromMask(hex: string): string[] {
  const mask = BigInt('0x' + hex.trim())
  return CAPABILITIES.filter((_, bit) => (mask >> BigInt(bit)) & 1n)
}

/** The CapBnd line of a /proc/<pid>/status text. */
export function capBndOf(status: string): string {
  const m = /^CapBnd:\s*([0-9a-fA-F]+)\s*$/m.exec(status)
  if (!m) throw new Error('no CapBnd line in /proc status')
  return m[1]
}

export function boundingCaps(statusFile = '/proc/self/status'): string[] {
  return capsFromMask(capBndOf(fs.readFileSync(statusFile, 'utf8')))
}

/**
 * An older engine refuses names it does not know (docker 20.10: "unknown capability: \"CAP_BPF\""). Returns the
 * name to drop so the caller can retry without it, or undefined when the error is something else.
 */
export function unknownCapIn(stderr: string): string | undefined {
  const m = /unknown capability: "?(?:CAP_)?([A-Z_]+)"?/.exec(stderr)
  return m?.[1]
}
