// The inventory's YAML text with node positions kept, so every problem can say file:line:column.
import { isMap, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml'
import type { Path, Problem } from './problems.ts'

export interface YamlSource {
  doc: Document
  data: unknown
  /** YAML syntax errors, already positioned. */
  syntax: Problem[]
  /** 1-based line and column of the value (or key) at path; the nearest existing parent when it is missing. */
  locate(path: Path, at?: 'key' | 'value'): { line: number; col: number }
}

export function readYaml(text: string): YamlSource {
  const lc = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true })
  const pos = (offset: number) => {
    const p = lc.linePos(offset)
    return { line: p.line, col: p.col }
  }
  const syntax: Problem[] = [...doc.errors, ...doc.warnings].map((e) => ({
    severity: doc.errors.includes(e) ? 'error' : 'warning',
    path: [],
    message: e.message.split('\n')[0],
    hint: e.code === 'DUPLICATE_KEY' ? 'each key may appear once; merge the two entries' : 'fix the YAML syntax',
    ...pos(e.pos[0]),
  }))
  const locate = (path: Path, at: 'key' | 'value' = 'value') => {
    let node: unknown = doc.contents
    let keyNode: Node | undefined
    let found: Node | undefined = doc.contents ?? undefined
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((it) => (it.key as { value?: unknown } | null)?.value === seg || String((it.key as { value?: unknown })?.value) === String(seg))
        if (!pair) break
        keyNode = pair.key as Node
        node = pair.value
        found = (pair.value as Node | null) ?? keyNode
      } else if (isSeq(node) && typeof seg === 'number' && node.items[seg]) {
        keyNode = undefined
        node = node.items[seg]
        found = node as Node
      } else break
    }
    const target = at === 'key' && keyNode ? keyNode : found
    return target?.range ? pos(target.range[0]) : { line: 1, col: 1 }
  }
  return { doc, data: doc.errors.length ? undefined : doc.toJS({ maxAliasCount: 100 }), syntax, locate }
}
