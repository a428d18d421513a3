// What `dr inventory check` prints: the cluster at a glance, and what losing each site would do to etcd.
import path from 'node:path'
import { table } from '../core/output.ts'
import type { InventoryReport } from './load.ts'
import { formatProblem, type Problem } from './problems.ts'
import { quorumOf, siteLossTable, type SiteLossRow } from './site-loss.ts'
import type { Inventory } from './types.ts'

export interface InventorySummary {
  file: string
  valid: boolean
  cluster: string
  flavor: string
  sites: Array<{ name: string; hosts: Array<{ name: string; address: string; roles: string[]; transport: string }> }>
  etcdMembers: number
  quorum: number
  siteLoss: SiteLossRow[]
  errors: Array<Problem & { where: string }>
  warnings: Array<Problem & { where: string }>
}

export function summarise(report: InventoryReport, inv: Inventory): InventorySummary {
  const bySite: Record<string, number> = {}
  for (const s of Object.values(inv.sites)) bySite[s.name] = s.hosts.filter((h) => inv.hosts[h]?.roles.includes('etcd')).length
  const members = Object.values(bySite).reduce((a, b) => a + b, 0)
  const where = (p: Problem) => `${report.file}:${p.line ?? 1}:${p.col ?? 1}`
  return {
    file: report.file,
    valid: report.errors.length === 0,
    cluster: inv.cluster,
    flavor: inv.flavor,
    sites: Object.values(inv.sites).map((s) => ({
      name: s.name,
      hosts: s.hosts.map((n) => {
        const h = inv.hosts[n]
        return { name: n, address: h.transport === 'docker-exec' ? `${h.address} (container ${h.container})` : `${h.address}:${h.ssh.port}`, roles: h.roles, transport: h.transport }
      }),
    })),
    etcdMembers: members,
    quorum: quorumOf(members),
    siteLoss: siteLossTable(bySite),
    errors: report.errors.map((p) => ({ ...p, where: where(p) })),
    warnings: report.warnings.map((p) => ({ ...p, where: where(p) })),
  }
}

export function renderSummary(s: InventorySummary, cwd = process.cwd()): string {
  const rel = path.relative(cwd, s.file)
  const shown = rel && !rel.startsWith('..') ? rel : s.file
  const out: string[] = [`${shown}: cluster ${s.cluster}, flavor ${s.flavor}, ${s.sites.length} sites, ${s.sites.reduce((a, x) => a + x.hosts.length, 0)} hosts`, '']
  out.push(
    table(
      ['SITE', 'HOST', 'ADDRESS', 'ROLES', 'TRANSPORT'],
      s.sites.flatMap((site) => site.hosts.map((h, i) => [i === 0 ? site.name : '', h.name, h.address, h.roles.join(',') || '-', h.transport])),
    ),
  )
  out.push('', `etcd: ${s.etcdMembers} member${s.etcdMembers === 1 ? '' : 's'}, quorum ${s.quorum}`, '')
  out.push(
    'If this site is lost:',
    table(
      ['SITE', 'ETCD MEMBERS THERE', 'MEMBERS LEFT', 'QUORUM NEEDED', 'VERDICT'],
      s.siteLoss.map((r) => [r.site, String(r.membersInSite), String(r.left), String(r.quorum), r.quorumKept ? 'quorum kept' : 'QUORUM LOST: needs `dr failover`']),
    ),
  )
  if (s.warnings.length) {
    out.push('', `${s.warnings.length} warning${s.warnings.length === 1 ? '' : 's'}:`)
    for (const w of s.warnings) out.push('  ' + formatProblem(shown, w))
  }
  out.push('', s.valid ? 'inventory is valid' : `${s.errors.length} error(s)`)
  return out.join('\n')
}
