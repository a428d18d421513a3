// Apply a retention plan to a store: delete the payload and its metadata record of every backup not kept.
import { listBackups, type BackupEntry } from './catalog.ts'
import { metadataName } from './naming.ts'
import { planRetention, type RetentionPlan, type RetentionPolicy } from './retention.ts'
import type { BackupStore } from './store.ts'

export async function planPrune(store: BackupStore, cluster: string, policy: RetentionPolicy): Promise<RetentionPlan<BackupEntry>> {
  // A backup with problems (no metadata, a size that does not match) is never the one retention relies on.
  return planRetention(await listBackups(store, { cluster }), policy, { isSound: (e) => e.problems.length === 0 })
}

export async function applyPrune(store: BackupStore, plan: RetentionPlan<BackupEntry>): Promise<{ deleted: string[]; failed: Array<{ id: string; error: string }> }> {
  const deleted: string[] = []
  const failed: Array<{ id: string; error: string }> = []
  for (const e of plan.remove) {
    try {
      // Payload first: a leftover metadata record is invisible to `list`; a leftover payload would look unverifiable.
      await store.delete(e.payload)
      await store.delete(metadataName(e.id)).catch(() => {})
      deleted.push(e.id)
    } catch (err) {
      failed.push({ id: e.id, error: (err as Error).message })
    }
  }
  return { deleted, failed }
}
