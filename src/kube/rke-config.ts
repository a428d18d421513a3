// RKE's cluster.yml without the dead site's nodes, so a later `rke up` does not bring them back.
// Edited with the yaml document API: comments and formatting of everything else survive.
import fs from 'node:fs'
import { isMap, isSeq, parseDocument, type YAMLMap } from 'yaml'
import { writeFileDurableSync } from '../core/durable.ts'
import { DrError } from '../core/error.ts'

export interface RkeConfigEdit {
  text: string
  removed: string[]
}

/** Remove every entry of `nodes:` whose address (or hostname_override) is in `drop`. Pure. */
export function withoutNodes(text: string, drop: Set<string>): RkeConfigEdit {
  const doc = parseDocument(text)
  if (doc.errors.length) {
    throw new DrError({ code: 'rke.bad-config', message: `cluster.yml does not parse: ${doc.errors[0].message}`, exit: 'usage' })
  }
  const nodes = doc.get('nodes', true)
  if (!isSeq(nodes)) throw new DrError({ code: 'rke.bad-config', message: 'cluster.yml has no `nodes:` list', exit: 'usage' })
  const removed: string[] = []
  nodes.items = nodes.items.filter((item) => {
    if (!isMap(item)) return true
    const addr = String((item as YAMLMap).get('address') ?? '')
    const name = String((item as YAMLMap).get('hostname_override') ?? '')
    if (drop.has(addr) || (name && drop.has(name))) {
      removed.push(addr)
      return false
    }
    return true
  })
  return { text: removed.length ? doc.toString() : text, removed }
}

/** Write the edited file atomically and durably, keeping the original as FILE.bak. */
export function writeRkeConfig(file: string, text: string) {
  fs.copyFileSync(file, `${file}.bak`)
  writeFileDurableSync(file, text, fs.statSync(file).mode & 0o777, `${file}.dr-tmp`)
}
