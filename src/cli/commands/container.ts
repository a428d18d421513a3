import type { Command } from 'commander'
import { action, notBuilt } from '../run.ts'

export function registerContainer(program: Command) {
  program
    .command('container')
    .description('(not built yet)')
    .allowUnknownOption()
    .argument('[args...]')
    .action(action(async () => notBuilt('container')))
}
