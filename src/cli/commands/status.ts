import type { Command } from 'commander'
import { action, notBuilt } from '../run.ts'

export function registerStatus(program: Command) {
  program
    .command('status')
    .description('(not built yet)')
    .allowUnknownOption()
    .argument('[args...]')
    .action(action(async () => notBuilt('status')))
}
