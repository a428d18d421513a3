// Commands that are named in the command set but not built yet: they say so and exit 2.
import type { Command } from 'commander'
import { action, notBuilt } from '../run.ts'

const PLANNED: [string, string][] = [
  ['doctor', 'diagnose the failures of the seeds on one host: moved node IPs, stale containers, quorum loss'],
  ['diagnose', 'collect a diagnostic bundle (logs, inspect output, member lists) into one archive'],
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
