// One idea of a control-plane component (etcd, kube-apiserver) with two kinds behind it: an RKE container
// (docker inspect → exact re-creation) and a kubeadm static pod (a manifest the kubelet runs). Runbooks ask the
// component for its flags, edits, stop/start/wait; they never say "docker" or "manifest" themselves.
import type { ContainerInspect } from '../container/inspect.ts'

export type ComponentName = 'etcd' | 'kube-apiserver'
export type ComponentKind = 'container' | 'static-pod'

export interface ComponentEdit {
  /** Flags to set (`--initial-cluster` or `initial-cluster` → value), each in the form it is written. */
  setArgs?: Record<string, string>
  removeArgs?: string[]
  /** Words to append (each only when not already there), e.g. ['--force-new-cluster']. */
  addArgs?: string[]
  /** Containers only: the new restart policy. A static pod has none of its own (the kubelet always restarts it). */
  restartPolicy?: { Name: string; MaximumRetryCount?: number }
}

export interface ComponentState {
  kind: ComponentKind
  name: ComponentName
  host: string
  /** The container's name, or the manifest's path (its stash path while stopped). */
  where: string
  /** Deliberately stopped and kept so across reboots (restart policy no and not running / manifest moved out). */
  stopped: boolean
  running: boolean
  /** The process the component runs: executable then arguments (container Path+Args, manifest command+args). */
  argv: string[]
  image: string
  /** What restarts it: the container's restart policy; `always` for a static pod (the kubelet). */
  restartPolicy: string
  /** The container that runs (or last ran) it, where the host's runtime is docker. */
  container?: ContainerInspect
}

export interface ReconfigureResult {
  /** What was kept: the old container's new name, or the old manifest's backup path. */
  kept: string
  argv: string[]
}

export interface Component {
  readonly kind: ComponentKind
  readonly name: ComponentName
  readonly host: string
  /** undefined: the component does not exist on this host. */
  state(): Promise<ComponentState | undefined>
  /** For plans: a sentence, and the exact command (containers) or the manifest diff (static pods). */
  describe(edit: ComponentEdit): Promise<{ summary: string; detail?: string }>
  /** Run it with edited flags, keeping the old one; waits until the new one runs and stays up. */
  reconfigure(edit: ComponentEdit, opts?: { keepRunningCheckMs?: number; timeoutMs?: number }): Promise<ReconfigureResult>
  /** Stop it so that it stays stopped across reboots; waits until its container is gone or stopped. */
  stop(opts?: { timeoutMs?: number }): Promise<void>
  /** Undo stop(): run it again (restart policy always / manifest back). */
  start(opts?: { timeoutMs?: number }): Promise<ComponentState>
  /** Wait until it runs (and, given argv, runs exactly that command). */
  waitRunning(opts?: { timeoutMs?: number; argv?: string[] }): Promise<ComponentState>
  /** The last lines of its container's log. */
  logs(tail?: number): Promise<string>
  /** Where an operator reads its log on the host, in words (for hints). */
  logHint(): string
  /** What stop() does, as the commands an operator would run (for plans). */
  stopCommand(): string
}
