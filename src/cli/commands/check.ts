import type { Command } from 'commander'
import { action, notBuilt } from '../run.ts'

export function registerCheck(program: Command) {
  program
    .command('check')
    .description('(not built yet)')
    .allowUnknownOption()
    .argument('[args...]')
    .action(action(async () => notBuilt('check')))
}
