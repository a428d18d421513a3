// `dr backup restore ID`: placeholder until the runbook engine lands (see restore.ts).
import { notBuilt } from '../cli/run.ts'
import type { CliContext } from '../cli/context.ts'

export async function restoreCommand(_ctx: CliContext, _id: string, _opts: Record<string, unknown>): Promise<number> {
  notBuilt('backup restore', 'issue 6')
}
