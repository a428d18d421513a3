// The `dr` command: global options, the command set, exit codes.
import { Command, CommanderError } from 'commander'
import { readFileSync } from 'node:fs'
import { ExitCode } from '../core/error.ts'
import { projectRoot } from './context.ts'
import { registerCommands } from './commands/index.ts'

const pkg = JSON.parse(readFileSync(`${projectRoot}/package.json`, 'utf8')) as { version: string }

export function buildProgram(): Command {
  const program = new Command('dr')
    .description('Disaster recovery for Kubernetes control planes: site failover, verified etcd backups, drills, diagnosis.')
    .version(pkg.version)
    .option('-i, --inventory <file>', 'inventory file (default: $DR_INVENTORY, else inventories/lab.yaml when it exists)')
    .option('--json', 'print one JSON document instead of human output')
    .option('--yes', 'do not ask for confirmation before changing a cluster')
    .option('--plan', 'show what would change and change nothing')
    .option('-v, --verbose', 'say more')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false })
    .exitOverride()
  registerCommands(program)
  program.addHelpText(
    'after',
    `
Exit codes:
  0   success
  1   an operation failed (a command on a host, an unreachable host or store)
  2   usage error: bad arguments, invalid inventory, or a command not built yet
  3   refused for safety: quorum still exists, not confirmed, another operator holds the lock
  4   applied, but verification did not hold
  5   a check or diagnosis found problems
  70  internal error (a bug in dr)`,
  )
  return program
}

/**
 * A reader that went away (`dr … | head`) must not kill dr: mid-failover that would stop a destructive run half
 * done. Output to a closed pipe is dropped, and the work goes on; any other stream error is still thrown.
 */
function keepWorkingWhenTheReaderLeaves(stream: NodeJS.WriteStream) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') return
    throw e
  })
}

export async function main(argv: string[]): Promise<void> {
  keepWorkingWhenTheReaderLeaves(process.stdout)
  keepWorkingWhenTheReaderLeaves(process.stderr)
  const program = buildProgram()
  for (const c of allCommands(program)) c.exitOverride()
  // Node exits with status 0 when nothing is left to wait for, even if a command is still awaiting a promise that
  // can never settle (a callback that never came). dr must never look successful then: exit 70 and say so.
  let settled = false
  const unfinished = () => {
    if (settled) return
    process.stderr.write('error[bug.unsettled]: dr stopped in the middle of its work: something it was waiting for can never answer (an internal error); nothing after this point was done or verified\n  next:    run the same command again (runbooks resume) and report this with the journal in the state directory\n')
    process.exit(ExitCode.bug)
  }
  process.once('beforeExit', unfinished)
  try {
    await program.parseAsync(argv)
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here with code 0; everything else is a usage error.
      process.exitCode = e.exitCode === 0 ? 0 : ExitCode.usage
      return
    }
    throw e
  } finally {
    settled = true
    process.removeListener('beforeExit', unfinished)
  }
}

function allCommands(c: Command): Command[] {
  return [c, ...c.commands.flatMap((s) => allCommands(s))]
}

