import type { Command } from 'commander'
import { action, notBuilt } from '../run.ts'

export function registerBackup(program: Command) {
  program
    .command('backup')
    .description('(not built yet)')
    .allowUnknownOption()
    .argument('[args...]')
    .action(action(async () => notBuilt('backup')))
}
