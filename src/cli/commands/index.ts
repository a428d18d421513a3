// The command set, in the order `dr --help` lists it. Each concern registers its own commands.
import type { Command } from 'commander'
import { registerLab } from './lab.ts'
import { registerStatus } from './status.ts'
import { registerCheck } from './check.ts'
import { registerInventory } from './inventory.ts'
import { registerContainer } from './container.ts'
import { registerBackup } from './backup.ts'
import { registerFailover } from './failover.ts'
import { registerMisc } from './misc.ts'
import { registerDoctor } from './doctor.ts'
import { registerDiagnose } from './diagnose.ts'

export function registerCommands(program: Command) {
  registerLab(program)
  registerStatus(program)
  registerCheck(program)
  registerInventory(program)
  registerContainer(program)
  registerBackup(program)
  registerFailover(program)
  registerDoctor(program)
  registerDiagnose(program)
  registerMisc(program)
}
