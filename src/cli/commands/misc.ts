// Commands that are named in the command set but not built yet: they say so and exit 2.
import type { Command } from 'commander'
import { action, notBuilt } from '../run.ts'

const PLANNED: [string, string][] = [
  ['failback', 'bring a fenced site back into the cluster, one member at a time'],
  ['drill', 'game-day drills: break the lab on purpose, recover, measure recovery time and data loss'],
  ['run', 'run a runbook from runbooks/ by name'],
]

export function registerMisc(program: Command) {
  for (const [name, what] of PLANNED) {
    program
      .command(name)
      .description(`${what} (not built yet)`)
      .allowUnknownOption()
      .argument('[args...]')
      .action(action(async () => notBuilt(name)))
  }
}
