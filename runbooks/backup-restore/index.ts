// `dr backup restore ID`: rebuild the whole cluster from one backup when every member is lost. The backup is
// fetched and proven restorable first (digests, etcd's own hash, a throwaway restore) — every refusal happens
// before anything is touched. Then, on each etcd host: stop etcd, move the old data aside (kept, never deleted),
// `etcdctl snapshot restore` with the member's own name and peer URL and one fresh --initial-cluster-token (a new
// cluster ID, so an old member can never merge back), re-create the etcd container with that token, and finally
// prove quorum, a write, and every key and the revision of the backup.
//
// What is done is read from the cluster: each host keeps a marker naming the backup and the token beside its data
// dir, and its etcd runs with that token. So a run from an empty state directory on a restored cluster changes
// nothing, and a quorum is let through only when it is this restore's own — never because a state file says so.
// Read top to bottom: this file (assess, steps) → member-steps.ts (per host) → state.ts (the local record).
import fsp from 'node:fs/promises'
import path from 'node:path'
import { DrError } from '../../src/core/error.ts'
import { hostsWithRole } from '../../src/inventory/types.ts'
import type { Runbook, Step, StepContext } from '../../src/runbook/types.ts'
import { probeCluster } from '../../src/etcd/status.ts'
import { connectMember } from '../../src/etcd/client.ts'
import { keyCount, waitWritable } from '../../src/etcd/ops.ts'
import { openNamedStore, readIdentities } from '../../src/backup/run-backup.ts'
import { fetchSnapshot } from '../../src/backup/verify.ts'
import { restoreThrowaway } from '../../src/backup/throwaway-etcd.ts'
import { componentOf } from '../steps/containers.ts'
import { markerBackup, memberSteps, readMember, tokenOf, unverified, type RestoreFacts } from './member-steps.ts'
import { readRestoreState, stateFile, writeRestoreState, type RestoreDecision } from './state.ts'

export type { RestoreFacts } from './member-steps.ts'

export interface RestoreOptions {
  id: string
  store?: string
  identity?: string
  force?: boolean
}

const opt = (o: Record<string, unknown>) => o as unknown as RestoreOptions
const snapshotFile = (stateDir: string, id: string) => path.join(stateDir, 'restore', `${id}.db`)

/** The token of this backup's restore as the hosts show it: etcd running with it and a marker naming the backup. */
async function restoreOnCluster(ctx: Omit<StepContext<RestoreFacts>, 'facts'>, id: string, hosts: string[]): Promise<{ token?: string; hosts: string[] }> {
  const found: Array<{ host: string; token: string }> = []
  for (const h of hosts) {
    const t = await ctx.conns.get(h)
    const s = await componentOf(ctx.inv, t, 'etcd').state()
    const token = tokenOf(s)
    if (!s?.running || !token) continue
    if ((await markerBackup(t, ctx.inv.etcd.dataDir, token)) === id) found.push({ host: h, token })
  }
  const tokens = [...new Set(found.map((f) => f.token))]
  if (tokens.length > 1) {
    throw new DrError({ code: 'restore.mixed-tokens', message: `the etcd members run restores of backup ${id} with different tokens (${found.map((f) => `${f.host}: ${f.token}`).join(', ')})`, hint: 'two restores were mixed; check `dr status` and the markers <dataDir>.dr-restored-* on the hosts', exit: 'refused' })
  }
  return { token: tokens[0], hosts: found.map((f) => f.host) }
}

const recordDecision: Step<RestoreFacts> = {
  id: 'record-decision',
  title: 'Record the restore (backup, fresh cluster token, members) in the state directory',
  async check(ctx) {
    // A restore the cluster shows done, from another state directory: nothing to record here.
    if (ctx.facts.recordedHere || ctx.facts.doneOnCluster) return []
    return [{ summary: `write ${stateFile(ctx.inv.stateDir, ctx.facts.decision.id)} (token ${ctx.facts.decision.token})` }]
  },
  async apply(ctx) {
    writeRestoreState(ctx.inv.stateDir, ctx.facts.decision)
  },
  async verify(ctx) {
    if (readRestoreState(ctx.inv.stateDir, ctx.facts.decision.id)?.token !== ctx.facts.decision.token) throw unverified('the recorded token differs')
  },
}

const markComplete: Step<RestoreFacts> = {
  id: 'mark-complete',
  title: 'Mark the restore complete in the state directory',
  async check(ctx) {
    const d = readRestoreState(ctx.inv.stateDir, ctx.facts.decision.id)
    if (d?.completedAt || (!d && ctx.facts.doneOnCluster && !ctx.willChange?.has('record-decision'))) return []
    return [{ summary: `set completedAt in ${stateFile(ctx.inv.stateDir, ctx.facts.decision.id)}` }]
  },
  async apply(ctx) {
    const d = readRestoreState(ctx.inv.stateDir, ctx.facts.decision.id) ?? ctx.facts.decision
    writeRestoreState(ctx.inv.stateDir, { ...d, completedAt: new Date().toISOString() })
  },
  async verify(ctx) {
    if (!readRestoreState(ctx.inv.stateDir, ctx.facts.decision.id)?.completedAt) throw unverified('the restore is not marked complete')
  },
}

export const restoreRunbook: Runbook<RestoreFacts> = {
  name: 'backup-restore',
  title: 'full-cluster restore from a backup',

  async assess(ctx) {
    const o = opt(ctx.options)
    const inv = ctx.inv
    const etcdHosts = hostsWithRole(inv, 'etcd').map((h) => h.name)
    // A damaged state file stops the run here, before any host is touched.
    const state = readRestoreState(inv.stateDir, o.id)
    const previous = state && !state.completedAt ? state : undefined
    const status = await probeCluster(ctx.conns, inv, { timeoutMs: 3000 })
    const onCluster = await restoreOnCluster(ctx, o.id, etcdHosts)
    if (previous && onCluster.token && previous.token !== onCluster.token) {
      throw new DrError({ code: 'restore.token-mismatch', message: `${stateFile(inv.stateDir, o.id)} records token ${previous.token}, but the cluster runs backup ${o.id} restored with token ${onCluster.token}`, hint: 'another run restored it; move the state file aside and run again', exit: 'refused' })
    }
    // A quorum is let through only when it is this restore's own (read from the hosts), never because of a file.
    const quorumHosts = status.members.filter((m) => m.quorumRead).map((m) => m.host)
    const ownQuorum = quorumHosts.length > 0 && quorumHosts.every((h) => onCluster.hosts.includes(h))
    if (status.verdict.hasQuorum && !ownQuorum && !o.force) {
      throw new DrError({
        code: 'restore.quorum-present',
        message: `etcd still has quorum (a linearizable read succeeded through ${quorumHosts.join(', ')}): a restore would throw away everything written since the backup`,
        hint: 'a full restore is for when every member is lost; to roll a working cluster back anyway, add --force',
        exit: 'refused',
      })
    }
    // The gate: fetch, decrypt, check every digest and restore into a throwaway etcd. Refusals end here.
    ctx.out.progress(`fetching and verifying backup ${o.id} …`)
    const store = await openNamedStore(inv, ctx.conns, o.store)
    let got
    try {
      got = await fetchSnapshot(store, o.id, { identities: await readIdentities(inv, o.identity) })
    } finally {
      await store.close()
    }
    const view = await restoreThrowaway(got.file, got.scratchDir).catch(async (e) => {
      await got.cleanup()
      throw e
    })
    const file = snapshotFile(inv.stateDir, o.id)
    await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 })
    await fsp.copyFile(got.file, file)
    await fsp.chmod(file, 0o600)
    await got.cleanup()
    ctx.out.progress(`backup ${o.id} verified: revision ${view.revision}, ${view.keyCount} keys`)

    const members = previous?.members ?? (await Promise.all(etcdHosts.map((h) => readMember(ctx, h))))
    const token = previous?.token ?? onCluster.token ?? `dr-restore-${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'z').toLowerCase()}`
    const decision: RestoreDecision = previous ?? { id: o.id, token, startedAt: new Date().toISOString(), sha256: got.metadata.snapshot.sha256, members }
    return {
      decision,
      metadata: got.metadata,
      file,
      initialCluster: members.map((m) => `${m.name}=${m.peerUrl}`).join(','),
      resumed: !!previous,
      doneOnCluster: !!onCluster.token && etcdHosts.every((h) => onCluster.hosts.includes(h)),
      recordedHere: !!state && state.token === token,
    }
  },

  describe(f) {
    const m = f.metadata
    return [
      `backup ${m.id}: revision ${m.revision}${m.keyCount !== undefined ? `, ${m.keyCount} keys` : ''}, taken ${m.createdAt} from ${m.member.host} — verified by a throwaway restore`,
      `every etcd member is restored from it with the fresh token ${f.decision.token} (a new cluster ID: old members cannot merge back): ${f.initialCluster}`,
      'nothing is deleted: each old data dir is kept as <dataDir>.dr-before-restore-<token>, each old container as etcd-old-<time> (kubeadm: each old manifest in /etc/kubernetes/dr/backup/)',
      ...(f.doneOnCluster ? [`every member already runs backup ${m.id} restored with token ${f.decision.token} (read from the hosts): nothing to restore`] : []),
      ...(f.resumed ? [`resuming the restore started at ${f.decision.startedAt}`] : []),
    ]
  },

  steps(f) {
    const per = f.decision.members.map(memberSteps)
    // All members stop before any is restored, and all are restored before any starts.
    return [recordDecision, ...per.map((s) => s[0]), ...per.map((s) => s[1]), ...per.map((s) => s[2]), markComplete]
  },

  async finalVerify(ctx) {
    const f = ctx.facts
    const out: string[] = []
    const first = f.decision.members[0].host
    const conn = await connectMember(ctx.conns, ctx.inv, first, { callTimeoutMs: 5000 })
    try {
      await waitWritable(conn.client, `restore-${f.decision.token}`, 60_000, first)
      out.push(`quorum read and write through ${first}: ok`)
      const members = (await conn.client.cluster.memberList({})).members
      if (members.length !== f.decision.members.length) throw unverified(`${members.length} members listed, ${f.decision.members.length} restored`)
      out.push(`members: ${members.map((m) => m.name).join(', ')}`)
      const status = await conn.client.maintenance.status()
      const keys = await keyCount(conn.client)
      const want = f.metadata.keyCount
      // waitWritable added one key; kube-apiservers may add more, never fewer.
      if (want !== undefined && keys < want) throw unverified(`${keys} keys after the restore, fewer than the ${want} in the backup`)
      if (Number(status.header.revision) < f.metadata.revision) throw unverified(`revision ${status.header.revision} is below the backup's ${f.metadata.revision}`)
      out.push(`keys: ${keys} (backup: ${want ?? 'not recorded'}), revision ${status.header.revision} ≥ ${f.metadata.revision}`)
    } finally {
      await conn.close()
    }
    return out
  },
}
