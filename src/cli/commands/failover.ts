import type { Command } from 'commander'
import { action, notBuilt } from '../run.ts'

export function registerFailover(program: Command) {
  program
    .command('failover')
    .description('(not built yet)')
    .allowUnknownOption()
    .argument('[args...]')
    .action(action(async () => notBuilt('failover')))
}
