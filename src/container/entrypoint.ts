// How a container's process (entrypoint + cmd) relates to its image's, and how to say it with `docker run`.
// The docker CLI takes one word for --entrypoint, and an overridden entrypoint drops the image's cmd; RKE puts the
// whole command in the entrypoint. These rules decide what the printed command must say to start the same process.
import type { ContainerConfig } from './inspect.ts'

export const arr = (a: string[] | null | undefined): string[] => a ?? []
export const sameList = (a: string[] | null | undefined, b: string[] | null | undefined): boolean => {
  const x = arr(a)
  const y = arr(b)
  return x.length === y.length && x.every((v, i) => v === y[i])
}

export interface CommandForm {
  /** Value for --entrypoint, when one must be given ('' resets the image's entrypoint). */
  entrypoint?: string
  /** Words after the image name. */
  args: string[]
  /** Set when the CLI cannot say it exactly; the process started is still the same. */
  inexact?: string
}

/** The --entrypoint flag and the arguments that make `docker run` start the same Path and Args. */
export function commandForm(c: ContainerConfig, image: ContainerConfig | null | undefined): CommandForm {
  const E = arr(c.Entrypoint)
  const C = arr(c.Cmd)
  const IE = arr(image?.Entrypoint)
  const IC = arr(image?.Cmd)
  const split = (rest: string[]): CommandForm => ({
    entrypoint: E[0],
    args: [...E.slice(1), ...rest],
    inexact: `the entrypoint has ${E.length} elements and --entrypoint takes one word: printed as --entrypoint ${JSON.stringify(E[0])} with the rest as arguments (the same process; recreate keeps the arrays exact through the Engine API)`,
  })
  if (sameList(E, IE)) {
    if (sameList(C, IC)) return { args: [] }
    if (C.length > 0) return { args: C }
    // An empty cmd where the image has one: only an entrypoint override makes docker drop the image's cmd.
    if (E.length === 0) return { args: [], inexact: 'the container has no entrypoint and no cmd while its image has a cmd; the docker CLI cannot say that' }
    if (E.length === 1) return { entrypoint: E[0], args: [] }
    return split([])
  }
  if (E.length === 0) {
    return C.length > 0 ? { entrypoint: '', args: C } : { entrypoint: '', args: [], inexact: 'the entrypoint was reset and there is no cmd' }
  }
  if (E.length === 1) return { entrypoint: E[0], args: C }
  return split(C)
}

/** The process as docker starts it: Path and Args. */
export function processOf(c: ContainerConfig): { path: string; args: string[] } {
  const all = [...arr(c.Entrypoint), ...arr(c.Cmd)]
  return { path: all[0] ?? '', args: all.slice(1) }
}

/**
 * Edit the process's arguments (everything after the executable) wherever they live: RKE etcd keeps its flags in
 * Cmd, RKE kube-apiserver in the entrypoint's tail with Cmd empty. An entrypoint the edit leaves intact stays as it
 * is; otherwise the whole command moves into the entrypoint (Cmd empty), which starts the same process.
 */
export function editProcess(c: ContainerConfig, edit: (args: string[]) => string[]): { Entrypoint: string[] | null; Cmd: string[] | null } {
  const E = arr(c.Entrypoint)
  const C = arr(c.Cmd)
  const all = [...E, ...C]
  if (all.length === 0) return { Entrypoint: c.Entrypoint ?? null, Cmd: c.Cmd ?? null }
  const edited = [all[0], ...edit(all.slice(1))]
  if (sameList(edited, all)) return { Entrypoint: c.Entrypoint ?? null, Cmd: c.Cmd ?? null }
  if (E.length === 0) return { Entrypoint: c.Entrypoint ?? null, Cmd: edited }
  if (C.length > 0 && sameList(edited.slice(0, E.length), E)) return { Entrypoint: E, Cmd: edited.slice(E.length) }
  return { Entrypoint: edited, Cmd: [] }
}
