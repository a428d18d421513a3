// Reading (not editing) a process's flags from `docker inspect`: the command the process really runs is
// Path + Args, wherever docker got them from (RKE's etcd: image entrypoint + Cmd; RKE's apiserver: entrypoint).
import type { ContainerInspect } from './inspect.ts'

export const processArgv = (c: ContainerInspect): string[] => [c.Path ?? '', ...(c.Args ?? [])]

/** The value of `--flag=value` or `--flag value`; the last one wins, as in Go's flag package. */
export function flagValue(argv: readonly string[], flag: string): string | undefined {
  let value: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a.startsWith(`${flag}=`)) value = a.slice(flag.length + 1)
    else if (a === flag && i + 1 < argv.length && !argv[i + 1].startsWith('--')) value = argv[i + 1]
  }
  return value
}

/** A boolean flag is on when present bare or as `--flag=true`. */
export function hasFlag(argv: readonly string[], flag: string): boolean {
  return argv.some((a) => a === flag || a === `${flag}=true`)
}
