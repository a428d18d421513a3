// Small rule functions over the parsed inventory. Each returns every problem it sees; none stops at the first.
import { isIP } from 'node:net'
import type { RawHost, RawInventory } from './schema.ts'
import { STORE_FIELDS } from './schema.ts'
import { FLAVORS } from './defaults.ts'
import { ROLES } from './types.ts'
import { didYouMean, error, warning, type Problem } from './problems.ts'
import { siteLossTable } from './site-loss.ts'
import { fenceAgents } from './fence-agent.ts'

type Rule = (inv: RawInventory) => Problem[]

const hostsOf = (inv: RawInventory) => Object.entries(inv.hosts ?? {}) as Array<[string, RawHost | null]>
const siteLists = (inv: RawInventory) => Object.entries(inv.sites ?? {}).map(([s, v]) => [s, v?.hosts ?? []] as const)

export const requiredTop: Rule = (inv) => {
  const out: Problem[] = []
  if (!inv.cluster) out.push(error(['cluster'], 'the cluster has no name', 'add `cluster: <name>` at the top'))
  if (inv.flavor === undefined) out.push(error(['flavor'], 'the flavor is missing', `add \`flavor: rke\` (one of ${FLAVORS.join(', ')})`))
  else if (!FLAVORS.includes(inv.flavor as never))
    out.push(error(['flavor'], `unknown flavor "${inv.flavor}"`, didYouMean(inv.flavor, FLAVORS, `use one of ${FLAVORS.join(', ')}`)))
  if (!inv.hosts || Object.keys(inv.hosts).length === 0) out.push(error(['hosts'], 'no hosts are defined', 'list the cluster nodes under `hosts:`'))
  if (!inv.sites || Object.keys(inv.sites).length === 0) out.push(error(['sites'], 'no sites are defined', 'group the hosts under `sites: { A: { hosts: [...] } }`'))
  return out
}

export const hostFields: Rule = (inv) => {
  const out: Problem[] = []
  for (const [name, h] of hostsOf(inv)) {
    const transport = h?.transport ?? (inv.flavor === 'kind' ? 'docker-exec' : 'ssh')
    if (!h?.address && transport !== 'local')
      out.push(error(['hosts', name], `host ${name} has no address`, `add \`address: <IP or DNS name>\` under hosts.${name}`, 'key'))
    if (transport !== 'docker-exec' && h?.container)
      out.push(warning(['hosts', name, 'container'], `container is only used by the docker-exec transport; host ${name} uses ${transport}`))
    ;(h?.roles ?? []).forEach((r, i) => {
      if (!ROLES.includes(r as never))
        out.push(error(['hosts', name, 'roles', i], `unknown role "${r}"`, didYouMean(r, ROLES, `roles are ${ROLES.join(', ')}`)))
    })
    ;(h?.hostKeys ?? []).forEach((k, i) => {
      if (!/^SHA256:[A-Za-z0-9+/]{43}=?$/.test(k))
        out.push(error(['hosts', name, 'hostKeys', i], 'a pinned host key must be a SHA256 fingerprint', 'get it with `ssh-keyscan HOST | ssh-keygen -lf -` (SHA256:…, 43 characters after the colon)'))
    })
  }
  return out
}

export const siteMembership: Rule = (inv) => {
  const out: Problem[] = []
  const hostNames = Object.keys(inv.hosts ?? {})
  const firstSite = new Map<string, string>()
  for (const [site, list] of siteLists(inv)) {
    list.forEach((h, i) => {
      if (!(h in (inv.hosts ?? {}))) {
        out.push(error(['sites', site, 'hosts', i], `site ${site} names host "${h}", which is not defined under hosts`, didYouMean(h, hostNames, `define it under hosts: or remove it from site ${site}`)))
        return
      }
      const prev = firstSite.get(h)
      if (prev === site) out.push(error(['sites', site, 'hosts', i], `host ${h} is listed twice in site ${site}`, 'remove the second entry'))
      else if (prev) out.push(error(['sites', site, 'hosts', i], `host ${h} is in two sites: ${prev} and ${site}`, `a host belongs to exactly one site; remove it from ${prev} or ${site}`))
      else firstSite.set(h, site)
    })
  }
  if (inv.sites && Object.keys(inv.sites).length)
    for (const h of hostNames)
      if (!firstSite.has(h)) out.push(error(['hosts', h], `host ${h} is in no site`, `add it to one site's hosts list (sites: ${Object.keys(inv.sites).join(', ')})`, 'key'))
  return out
}

export const uniqueAddresses: Rule = (inv) => {
  const out: Problem[] = []
  const seen = new Map<string, string>()
  for (const [name, h] of hostsOf(inv)) {
    if (!h?.address) continue
    const transport = h.transport ?? (inv.flavor === 'kind' ? 'docker-exec' : 'ssh')
    // Two hosts may share an address when they are reached on different ports (loopback test rigs).
    const port = h.ssh?.port ?? inv.ssh?.port ?? 22
    const key = transport === 'docker-exec' ? `container:${h.container ?? name}` : `${h.address}:${port}`
    const prev = seen.get(key)
    if (prev) out.push(error(['hosts', name, 'address'], `host ${name} has the same address as ${prev} (${h.address})`, 'each host needs its own address (or its own ssh port)'))
    else seen.set(key, name)
  }
  return out
}

/** `bastion`, `user@10.0.0.1:2222`, `10.0.0.1`: a host name or something that can only be an address. */
export function looksLikeAddress(s: string): boolean {
  return s.includes('@') || s.includes(':') || isIP(s) !== 0 || s.includes('.')
}

export const jumpHosts: Rule = (inv) => {
  const out: Problem[] = []
  const names = Object.keys(inv.hosts ?? {})
  const check = (path: Array<string | number>, jump: string | undefined, self?: string) => {
    if (!jump) return
    if (jump === self) out.push(error(path, `host ${self} names itself as its jump host`, 'remove jumpHost from this host or name another host'))
    else if (!names.includes(jump) && !looksLikeAddress(jump))
      out.push(error(path, `jump host "${jump}" is not a host of this inventory`, didYouMean(jump, names, 'name a host from `hosts`, or write user@address:port')))
  }
  check(['ssh', 'jumpHost'], inv.ssh?.jumpHost)
  for (const [name, h] of hostsOf(inv)) check(['hosts', name, 'ssh', 'jumpHost'], h?.ssh?.jumpHost, name)
  return out
}

export const stores: Rule = (inv) => {
  const out: Problem[] = []
  const all = inv.backup?.stores ?? {}
  const types = Object.keys(STORE_FIELDS)
  for (const [name, s] of Object.entries(all)) {
    const path = ['backup', 'stores', name]
    if (!s.type) {
      out.push(error(path, `store ${name} has no type`, `add \`type: ${types.join(' | ')}\``, 'key'))
      continue
    }
    const spec = STORE_FIELDS[s.type as keyof typeof STORE_FIELDS]
    if (!spec) {
      out.push(error([...path, 'type'], `unknown store type "${s.type}"`, didYouMean(s.type, types, `use one of ${types.join(', ')}`)))
      continue
    }
    for (const f of spec.required)
      if ((s as Record<string, unknown>)[f] === undefined) out.push(error(path, `${s.type} store ${name} needs \`${f}\``, `add ${f}: under backup.stores.${name}`, 'key'))
    for (const f of Object.keys(s))
      if (f !== 'type' && !(spec.allowed as readonly string[]).includes(f))
        out.push(error([...path, f], `\`${f}\` is not a field of a ${s.type} store`, didYouMean(f, spec.allowed, `${s.type} stores take ${spec.allowed.join(', ')}`), 'key'))
    if (s.type === 'sftp' && s.host && !(s.host in (inv.hosts ?? {})))
      out.push(error([...path, 'host'], `sftp store ${name} names host "${s.host}", which is not defined under hosts`, didYouMean(s.host, Object.keys(inv.hosts ?? {}))))
  }
  const def = inv.backup?.defaultStore
  if (def && !(def in all)) out.push(error(['backup', 'defaultStore'], `default store "${def}" is not defined under backup.stores`, didYouMean(def, Object.keys(all))))
  return out
}

export const etcdLayout: Rule = (inv) => {
  const out: Problem[] = []
  const siteOf = new Map<string, string>()
  for (const [site, list] of siteLists(inv)) for (const h of list) if (!siteOf.has(h)) siteOf.set(h, site)
  const members = hostsOf(inv).filter(([, h]) => h?.roles?.includes('etcd'))
  if (Object.keys(inv.hosts ?? {}).length && members.length === 0) {
    out.push(warning(['hosts'], 'no host has the etcd role', 'add `etcd` to the roles of the hosts that run an etcd member', 'key'))
    return out
  }
  if (members.length > 0 && members.length % 2 === 0)
    {
    const n = members.length
    const tolerated = Math.floor((n - 1) / 2)
    out.push(warning(['hosts'], `${n} etcd members: an even count tolerates ${tolerated} failed member${tolerated === 1 ? '' : 's'}, no more than ${n - 1} would`, 'use an odd number of etcd members (3 or 5)', 'key'))
  }
  const bySite: Record<string, number> = {}
  for (const site of Object.keys(inv.sites ?? {})) bySite[site] = 0
  for (const [name] of members) {
    const s = siteOf.get(name)
    if (s) bySite[s] = (bySite[s] ?? 0) + 1
  }
  for (const row of siteLossTable(bySite)) {
    if (row.quorumKept || row.membersInSite === 0) continue
    const others = Object.keys(bySite).filter((s) => s !== row.site && bySite[s] > 0)
    out.push(
      warning(
        ['sites', row.site],
        `site ${row.site} holds ${row.membersInSite} of ${row.total} etcd members: if it is lost, ${row.left} remain${row.left === 1 ? 's' : ''} and quorum needs ${row.quorum}`,
        others.length
          ? `losing it stops the cluster until \`dr failover --site ${others[0]}\` rebuilds etcd from the survivors; a third site with one member would avoid that`
          : 'every etcd member is in this one site: losing it loses the cluster; spread members over sites',
        'key',
      ),
    )
  }
  return out
}

export const RULES: Rule[] = [requiredTop, hostFields, siteMembership, uniqueAddresses, jumpHosts, stores, etcdLayout, fenceAgents]

export const runRules = (inv: RawInventory): Problem[] => RULES.flatMap((r) => r(inv))
