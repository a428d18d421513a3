// `dr lab down`: remove exactly the docker objects that carry `dr.lab=<name>` — containers, then volumes, then
// the network — and the lab's inventory files and state (.dr/<name>). Nothing without the label is touched.
import fsp from 'node:fs/promises'
import type { Output } from '../core/output.ts'
import { docker, dockerText, requireEngine } from './docker.ts'
import { labFiles } from './inventory-writer.ts'
import { LABEL } from './nodes.ts'

export interface DownResult {
  containers: number
  volumes: number
  networks: number
  /** With plan: what would be removed, and nothing was. */
  plan?: { containers: string[]; volumes: string[]; networks: string[]; files: string[] }
}

export async function labDown(name: string, out: Output, opts: { plan?: boolean } = {}): Promise<DownResult> {
  await requireEngine()
  const filter = `label=${LABEL}=${name}`
  const ids = (what: string) => dockerText([what, 'ls', '-q', ...(what === 'container' ? ['-a'] : []), '--filter', filter]).then((s) => s.split('\n').filter(Boolean))
  if (opts.plan) {
    const names = (what: string, format: string) =>
      dockerText([what, 'ls', ...(what === 'container' ? ['-a'] : []), '--filter', filter, '--format', format]).then((s) => s.split('\n').filter(Boolean))
    const [containers, volumes, networks] = await Promise.all([names('container', '{{.Names}}'), names('volume', '{{.Name}}'), names('network', '{{.Name}}')])
    const files = labFiles(name)
    return { containers: containers.length, volumes: volumes.length, networks: networks.length, plan: { containers, volumes, networks, files: [files.inventory, files.dir, files.state] } }
  }
  const containers = await ids('container')
  if (containers.length) {
    out.progress(`removing ${containers.length} containers`)
    await docker(['rm', '-f', '-v', ...containers], { doing: 'remove the lab containers' })
  }
  const volumes = await ids('volume')
  if (volumes.length) {
    out.progress(`removing ${volumes.length} volumes`)
    await docker(['volume', 'rm', '-f', ...volumes], { doing: 'remove the lab volumes' })
  }
  const networks = await ids('network')
  if (networks.length) await docker(['network', 'rm', ...networks], { doing: 'remove the lab network' })
  const files = labFiles(name)
  await fsp.rm(files.inventory, { force: true })
  await fsp.rm(files.dir, { recursive: true, force: true })
  // The lab's journals, failover decisions and fences describe a cluster that no longer exists; a new lab of the
  // same name must not inherit them.
  await fsp.rm(files.state, { recursive: true, force: true })
  return { containers: containers.length, volumes: volumes.length, networks: networks.length }
}
