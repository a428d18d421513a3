// A static pod's manifest as a YAML document: read its command, edit its flags, write it back with every comment,
// key order and unrelated byte kept (the `yaml` document API, never a regex over the text). Pure.
import YAML, { isSeq, Scalar, type Document, type YAMLSeq } from 'yaml'
import { DrError } from '../core/error.ts'
import { editArgs, type RecreateOptions } from '../container/recreate.ts'

export type FlagEdit = Pick<RecreateOptions, 'setArgs' | 'removeArgs' | 'addArgs'>

export interface StaticPodManifest {
  doc: Document
  /** Where the flags live: `args` when the container has it, else `command` after the executable. */
  field: 'command' | 'args'
  container: string
}

/** The first container, or the one named `container`. */
function containerIndex(doc: Document, container: string | undefined, where: string): number {
  const list = doc.getIn(['spec', 'containers']) as YAMLSeq | undefined
  if (!isSeq(list) || list.items.length === 0) throw bad(`${where} has no spec.containers`)
  if (!container) return 0
  const i = list.items.findIndex((_, j) => doc.getIn(['spec', 'containers', j, 'name']) === container)
  if (i < 0) throw bad(`${where} has no container named ${container}`)
  return i
}

export function parseManifest(text: string, where = 'the manifest', container?: string): StaticPodManifest {
  const doc = YAML.parseDocument(text)
  if (doc.errors.length) throw bad(`${where} is not valid YAML: ${doc.errors[0].message}`)
  if (doc.get('kind') !== 'Pod') throw bad(`${where} is not a Pod manifest (kind: ${String(doc.get('kind'))})`)
  const i = containerIndex(doc, container, where)
  const name = String(doc.getIn(['spec', 'containers', i, 'name']) ?? '')
  const field = isSeq(doc.getIn(['spec', 'containers', i, 'args'])) ? 'args' : 'command'
  if (!isSeq(doc.getIn(['spec', 'containers', i, 'command'])) && field === 'command') throw bad(`${where}: container ${name} has no command`)
  return { doc, field, container: name }
}

const idx = (m: StaticPodManifest) => containerIndex(m.doc, m.container, 'the manifest')
const strings = (seq: unknown): string[] => (isSeq(seq) ? seq.items.map((n) => String((n as Scalar).value ?? n)) : [])

/** The process as the runtime starts it: command followed by args (the kubelet's Entrypoint + Cmd). */
export function manifestArgv(m: StaticPodManifest): string[] {
  const i = idx(m)
  return [...strings(m.doc.getIn(['spec', 'containers', i, 'command'])), ...strings(m.doc.getIn(['spec', 'containers', i, 'args']))]
}

export function manifestImage(m: StaticPodManifest): string {
  return String(m.doc.getIn(['spec', 'containers', idx(m), 'image']) ?? '')
}

/** The hostPath volume mounted at `mountPath` (etcd's data dir on the host), if any. */
export function hostPathOf(m: StaticPodManifest, mountPath: string): string | undefined {
  const c = m.doc.getIn(['spec', 'containers', idx(m)]) as YAML.YAMLMap
  const mounts = (c.toJSON() as { volumeMounts?: Array<{ name: string; mountPath: string }> }).volumeMounts ?? []
  const vm = mounts.find((v) => v.mountPath.replace(/\/$/, '') === mountPath.replace(/\/$/, ''))
  const vols = ((m.doc.getIn(['spec', 'volumes']) as YAML.YAMLSeq | undefined)?.toJSON() ?? []) as Array<{ name: string; hostPath?: { path: string } }>
  return vols.find((v) => v.name === vm?.name)?.hostPath?.path
}

/**
 * Apply flag edits in place. Unchanged words keep their nodes (and so their comments); a changed or new flag is
 * a new plain scalar. Returns whether anything changed.
 */
export function editManifestFlags(m: StaticPodManifest, edit: FlagEdit): boolean {
  const seq = m.doc.getIn(['spec', 'containers', idx(m), m.field]) as YAMLSeq
  const before = strings(seq)
  const head = m.field === 'command' ? before.slice(0, 1) : []
  const after = [...head, ...editArgs(before.slice(head.length), edit)]
  if (after.length === before.length && after.every((a, i) => a === before[i])) return false
  const pool = new Map<string, unknown[]>()
  seq.items.forEach((n, i) => pool.set(before[i], [...(pool.get(before[i]) ?? []), n]))
  seq.items = after.map((a) => pool.get(a)?.shift() ?? new Scalar(a))
  return true
}

export const renderManifest = (m: StaticPodManifest): string => m.doc.toString({ lineWidth: 0, indentSeq: false })

/** A line diff (`- old` / `+ new`, two lines of context), for plans. Pure; manifests are short. */
export function lineDiff(a: string, b: string, context = 2): string {
  const x = a.split('\n')
  const y = b.split('\n')
  const n = x.length
  const k = y.length
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(k + 1).fill(0))
  for (let i = n - 1; i >= 0; i--) for (let j = k - 1; j >= 0; j--) lcs[i][j] = x[i] === y[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1])
  const ops: Array<[' ' | '-' | '+', string]> = []
  let i = 0
  let j = 0
  while (i < n || j < k) {
    if (i < n && j < k && x[i] === y[j]) ops.push([' ', x[i++]]), j++
    else if (i < n && (j >= k || lcs[i + 1][j] >= lcs[i][j + 1])) ops.push(['-', x[i++]])
    else ops.push(['+', y[j++]])
  }
  const keep = ops.map((_, p) => ops.slice(Math.max(0, p - context), p + context + 1).some(([t]) => t !== ' '))
  const out: string[] = []
  ops.forEach(([t, line], p) => {
    if (keep[p]) out.push(`${t} ${line}`)
    else if (keep[p - 1]) out.push('  …')
  })
  return out.join('\n')
}

function bad(message: string) {
  return new DrError({ code: 'manifest.invalid', message, hint: 'look at the manifest by hand; dr edits only Pod manifests with a container command', exit: 'failed' })
}
