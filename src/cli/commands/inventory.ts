import type { Command } from 'commander'
import { action, notBuilt } from '../run.ts'

export function registerInventory(program: Command) {
  program
    .command('inventory')
    .description('(not built yet)')
    .allowUnknownOption()
    .argument('[args...]')
    .action(action(async () => notBuilt('inventory')))
}
