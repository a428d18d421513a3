// `dr lab ssh NODE [command…]`: OpenSSH with the lab's key and known_hosts (strict host-key checking), so the
// connection is the one dr itself makes.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import { DrError } from '../core/error.ts'
import { labFiles } from './inventory-writer.ts'
import { listNodeContainers } from './nodes.ts'

export function sshArgv(files: { key: string; knownHosts: string }, ip: string, command: string[]): string[] {
  return [
    '-i', files.key,
    '-o', 'IdentitiesOnly=yes',
    '-o', `UserKnownHostsFile=${files.knownHosts}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'ConnectTimeout=5',
    ...(command.length ? [] : ['-t']),
    `root@${ip}`,
    ...command,
  ]
}

export async function labSsh(lab: string, node: string, command: string[]): Promise<number> {
  const files = labFiles(lab)
  if (!fs.existsSync(files.key) || !fs.existsSync(files.knownHosts)) {
    throw new DrError({ code: 'lab.not-up', message: `lab ${lab} has no SSH key or known_hosts`, hint: 'run `dr lab up`', exit: 'usage' })
  }
  const nodes = await listNodeContainers(lab)
  const target = nodes.find((n) => n.name === node)
  if (!target) {
    throw new DrError({ code: 'lab.no-such-node', message: `lab ${lab} has no node ${node} (nodes: ${nodes.map((n) => n.name).join(', ')})`, exit: 'usage' })
  }
  const child = spawn('ssh', sshArgv(files, target.ip, command), { stdio: 'inherit' })
  return new Promise((resolve) => child.on('close', (code) => resolve(code ?? 255)))
}
