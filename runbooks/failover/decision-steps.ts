// First the failover writes down what it decided, then it takes a safety snapshot of the survivor: both before
// anything on the cluster changes, so a killed run resumes with the same survivor and the same evidence.
import { createReadStream, mkdirSync } from 'node:fs'
import { createHash } from 'node:crypto'
import path from 'node:path'
import { archiveDecision, decisionPath, writeDecision } from '../../src/cluster/decision.ts'
import { connectMember, snapshotTarget } from '../../src/etcd/client.ts'
import { keyCount, snapshotToFile } from '../../src/etcd/ops.ts'
import type { Step } from '../../src/runbook/types.ts'
import { decisionOf, recorded, unverified, type FailoverFacts } from './facts.ts'

export const recordDecision: Step<FailoverFacts> = {
  id: 'record-decision',
  title: 'Record the failover decision (survivor, method) in the state directory',
  async check(ctx) {
    const d = recorded(ctx)
    return d ? [] : [{ summary: `write ${decisionPath(ctx.inv.stateDir, ctx.facts.site)}: survivor ${ctx.facts.decision.survivor}, ${ctx.facts.method}` }]
  },
  async apply(ctx) {
    archiveDecision(ctx.inv.stateDir, ctx.facts.site)
    writeDecision(ctx.inv.stateDir, ctx.facts.decision)
  },
  async verify(ctx) {
    const d = recorded(ctx)
    if (d?.survivor !== ctx.facts.decision.survivor) throw unverified('the decision file does not name the survivor')
  },
}

const snapshotFile = (stateDir: string, cluster: string, survivor: string, tag: string) => path.join(stateDir, 'snapshots', `${cluster}-${survivor}-${tag}.db`)

export const safetySnapshot: Step<FailoverFacts> = {
  id: 'safety-snapshot',
  title: 'Take a safety snapshot of the survivor (works without quorum)',
  async check(ctx) {
    const d = decisionOf(ctx)
    if (d.snapshot) return []
    return [{ host: d.survivor, summary: `stream a snapshot of ${d.survivor} to ${snapshotFile(ctx.inv.stateDir, ctx.inv.cluster, d.survivor, d.tag)} and record its sha256, revision and key count` }]
  },
  async apply(ctx) {
    const f = ctx.facts
    const d = decisionOf(ctx)
    const file = snapshotFile(ctx.inv.stateDir, ctx.inv.cluster, d.survivor, d.tag)
    const conn = await connectMember(ctx.conns, ctx.inv, d.survivor)
    try {
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
      const snap = await snapshotToFile(snapshotTarget(conn), file)
      // Serializable: answered by the survivor alone, which is all there is without quorum.
      const keys = await keyCount(conn.client, { serializable: true })
      const revision = f.status.members.find((m) => m.host === d.survivor)?.revision ?? 0
      d.snapshot = { path: file, sha256: snap.sha256, size: snap.size, keys, revision }
      f.decision = d
      writeDecision(ctx.inv.stateDir, d)
    } finally {
      await conn.close()
    }
  },
  async verify(ctx) {
    const d = recorded(ctx)
    if (!d?.snapshot) throw unverified('no safety snapshot recorded')
    const h = createHash('sha256')
    for await (const chunk of createReadStream(d.snapshot.path)) h.update(chunk as Buffer)
    if (h.digest('hex') !== d.snapshot.sha256) throw unverified(`the safety snapshot ${d.snapshot.path} does not match its sha256`)
    return `${d.snapshot.keys} keys, ${d.snapshot.size} bytes, sha256 ${d.snapshot.sha256.slice(0, 12)}…`
  },
}
