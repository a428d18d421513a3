// `dr inventory import-rke`: an inventory from the cluster.yml that `rke up` used. RKE knows the nodes, their
// roles and how to reach them; only the sites are new, so the operator names them (--site A=h1,h2).
import path from 'node:path'
import { parseDocument } from 'yaml'
import { DrError } from '../core/error.ts'
import { didYouMean } from './problems.ts'
import { ROLES } from './types.ts'

interface RkeNode {
  address?: string
  internal_address?: string
  hostname_override?: string
  user?: string
  port?: number | string
  role?: string[]
  ssh_key_path?: string
}
interface RkeClusterYml {
  cluster_name?: string
  nodes?: RkeNode[]
  ssh_key_path?: string
  bastion_host?: { address?: string; user?: string; port?: number | string; ssh_key_path?: string }
}

export interface ImportRkeOptions {
  /** Site name → host names (hostname_override, else address). */
  sites: Record<string, string[]>
  cluster?: string
  /** Folder of cluster.yml (RKE resolves its relative paths from where it runs, usually there). */
  sourceDir: string
  /** Folder the inventory will be written to; paths are written relative to it. */
  outDir: string
  /** Name of the cluster.yml file, for the comment and the kubeconfig RKE writes beside it. */
  sourceName: string
  kubeconfigExists?: boolean
}

/** `A=h1,h2` → { A: [h1, h2] } */
export function parseSiteOptions(values: string[]): Record<string, string[]> {
  const sites: Record<string, string[]> = {}
  for (const v of values) {
    const m = /^([^=\s]+)=(.+)$/.exec(v)
    if (!m) throw new DrError({ code: 'usage.bad-site', message: `cannot read --site ${v}`, hint: 'write --site NAME=host1,host2', exit: 'usage' })
    sites[m[1]] = [...(sites[m[1]] ?? []), ...m[2].split(',').map((s) => s.trim()).filter(Boolean)]
  }
  return sites
}

const mostCommon = <T>(xs: T[]): T | undefined => {
  const counts = new Map<T, number>()
  for (const x of xs) counts.set(x, (counts.get(x) ?? 0) + 1)
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0]
}

export function importRke(text: string, o: ImportRkeOptions): string {
  const doc = parseDocument(text)
  if (doc.errors.length)
    throw new DrError({ code: 'import-rke.bad-yaml', message: `${o.sourceName} is not valid YAML: ${doc.errors[0].message.split('\n')[0]}`, exit: 'usage' })
  const rke = (doc.toJS() ?? {}) as RkeClusterYml
  const nodes = rke.nodes ?? []
  if (!nodes.length) throw new DrError({ code: 'import-rke.no-nodes', message: `${o.sourceName} has no nodes:`, hint: 'pass the cluster.yml that `rke up` used', exit: 'usage' })

  const problems: string[] = []
  const named = nodes.map((n, i) => {
    if (!n.address) problems.push(`nodes[${i}] has no address`)
    return { name: n.hostname_override || n.address || `node${i}`, node: n }
  })
  const names = named.map((n) => n.name)
  const siteOf = new Map<string, string>()
  for (const [site, hosts] of Object.entries(o.sites))
    for (const h of hosts) {
      if (!names.includes(h)) problems.push(`--site ${site}: no node "${h}" in ${o.sourceName} (${didYouMean(h, names, `nodes: ${names.join(', ')}`)})`)
      else if (siteOf.has(h)) problems.push(`--site: ${h} is in both ${siteOf.get(h)} and ${site}`)
      else siteOf.set(h, site)
    }
  const unplaced = names.filter((n) => !siteOf.has(n))
  if (!Object.keys(o.sites).length) problems.push('no --site given: say which nodes are in which site, e.g. --site A=master1,master2,node1 --site B=master3,node2')
  else if (unplaced.length) problems.push(`nodes in no site: ${unplaced.join(', ')} (add them to a --site)`)
  if (problems.length)
    throw new DrError({ code: 'import-rke.invalid', message: `cannot build an inventory from ${o.sourceName}:\n  ${problems.join('\n  ')}`, hint: 'node names are hostname_override, else address', exit: 'usage' })

  const rel = (p: string) => {
    if (p.startsWith('~')) return p
    const abs = path.resolve(o.sourceDir, p)
    const r = path.relative(o.outDir, abs)
    return r === '' ? '.' : r
  }
  const keyOf = (n: RkeNode) => n.ssh_key_path ?? rke.ssh_key_path ?? '~/.ssh/id_rsa' // RKE's own default
  const user = mostCommon(nodes.map((n) => n.user ?? 'root')) ?? 'root'
  const port = mostCommon(nodes.map((n) => Number(n.port ?? 22))) ?? 22
  const key = mostCommon(nodes.map(keyOf)) as string

  const ssh: Record<string, unknown> = { user, port, identityFile: rel(key), acceptNewHostKeys: false }
  if (rke.bastion_host?.address) {
    const b = rke.bastion_host
    ssh.jumpHost = `${b.user ?? user}@${b.address}:${b.port ?? 22}`
  }
  const hosts: Record<string, unknown> = {}
  for (const { name, node } of named) {
    const roles = (node.role ?? []).filter((r) => (ROLES as readonly string[]).includes(r))
    const over: Record<string, unknown> = {}
    if ((node.user ?? 'root') !== user) over.user = node.user ?? 'root'
    if (Number(node.port ?? 22) !== port) over.port = Number(node.port ?? 22)
    if (keyOf(node) !== key) over.identityFile = rel(keyOf(node))
    hosts[name] = {
      address: node.address,
      roles,
      ...(node.internal_address && node.internal_address !== node.address ? { labels: { internalAddress: node.internal_address } } : {}),
      ...(Object.keys(over).length ? { ssh: over } : {}),
    }
  }
  const sites = Object.fromEntries(Object.entries(o.sites).map(([s, hs]) => [s, { hosts: hs }]))
  const cluster = o.cluster ?? rke.cluster_name ?? 'rke'
  const out = parseDocument('{}')
  out.contents = out.createNode({
    cluster,
    flavor: 'rke',
    ssh,
    ...(o.kubeconfigExists ? { kubernetes: { kubeconfig: rel(`kube_config_${o.sourceName}`) } } : {}),
    sites,
    hosts,
  }) as never
  const body = out.toString({ lineWidth: 140, flowCollectionPadding: true })
  return (
    `# Generated by \`dr inventory import-rke ${o.sourceName}\`. RKE's defaults apply to etcd (kube-ca.pem,\n` +
    `# kube-etcd-<ip-with-dashes>.pem, /var/lib/etcd). Host keys: known_hosts defaults to ~/.ssh/known_hosts;\n` +
    `# set ssh.knownHosts or hosts.<name>.hostKeys to pin them. Check it with \`dr inventory check -i FILE\`.\n` +
    flowHosts(body)
  )
}

/** Put each host and site on one line (`master1: { address: …, roles: [etcd] }`), the way people write them. */
function flowHosts(yamlText: string): string {
  const doc = parseDocument(yamlText)
  for (const key of ['hosts', 'sites']) {
    const m = doc.get(key, true) as { items?: Array<{ value: { flow?: boolean } }> } | undefined
    for (const it of m?.items ?? []) if (it.value) it.value.flow = true
  }
  return doc.toString({ lineWidth: 160, flowCollectionPadding: true })
}
