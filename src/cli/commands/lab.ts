import type { Command } from 'commander'
import { action, notBuilt } from '../run.ts'

export function registerLab(program: Command) {
  program
    .command('lab')
    .description('(not built yet)')
    .allowUnknownOption()
    .argument('[args...]')
    .action(action(async () => notBuilt('lab')))
}
