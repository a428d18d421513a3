// The command set, in the order `dr --help` lists it. Each concern registers its own commands.
import type { Command } from 'commander'
import { registerLab } from './lab.ts'
import { registerStatus } from './status.ts'
import { registerCheck } from './check.ts'
import { registerInventory } from './inventory.ts'
import { registerContainer } from './container.ts'
import { registerBackup } from './backup.ts'
import { registerFailover } from './failover.ts'
import { registerDrill } from './drill.ts'
import { registerRun } from './run.ts'
import { registerMember } from './member.ts'
import { registerFailback } from './failback.ts'
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
  registerDrill(program)
  registerRun(program)
  registerMember(program)
  registerFailback(program)
  registerDoctor(program)
  registerDiagnose(program)
}
