// Lab nodes: docker containers that behave like hosts — sshd, their own dockerd, a static address on the lab's
// bridge, labelled so that `lab down` finds exactly what the lab made.
import fs from 'node:fs'
import { DrError } from '../core/error.ts'
import { unknownCapIn } from './caps.ts'
import { docker, dockerPipe, dockerExec, dockerText } from './docker.ts'
import { dockerVolumeName, type LabNode, type LabPlan, type LabSpec } from './topology.ts'
import { spawn } from 'node:child_process'

export const LABEL = 'dr.lab'

export function labLabels(plan: LabPlan): string[] {
  return ['--label', `${LABEL}=${plan.name}`]
}

export async function createNetwork(plan: LabPlan): Promise<void> {
  const spec: LabSpec = { name: plan.name, ...(plan.flavor ? { flavor: plan.flavor } : {}), sites: plan.sites, workers: plan.workers, subnet: plan.subnet }
  await docker(
    ['network', 'create', '--driver=bridge', `--subnet=${plan.subnet}`, `--gateway=${plan.gateway}`, ...labLabels(plan),
      '--label', `dr.lab.spec=${JSON.stringify(spec)}`, plan.network],
    { doing: `create the lab network ${plan.network}` },
  )
}

/** The spec a running lab was made with (kept as a label on its network), or undefined when none exists. */
export async function existingSpec(name: string, network: string): Promise<LabSpec | undefined> {
  const r = await docker(['network', 'inspect', '--format', '{{json .Labels}}', network], { nothrow: true })
  if (!r.ok) return undefined
  const labels = JSON.parse(r.stdout) as Record<string, string>
  if (labels[LABEL] !== name) {
    throw new DrError({ code: 'lab.foreign-network', message: `network ${network} exists but was not made by dr lab ${name}`, hint: `remove it yourself (docker network rm ${network}) or use another --name` })
  }
  return JSON.parse(labels['dr.lab.spec']) as LabSpec
}

/** `docker run` arguments for a node (pure). The node is unconfined so its own dockerd works (DESIGN §4). */
export function nodeRunArgs(plan: LabPlan, node: LabNode, image: string, caps: string[]): string[] {
  return [
    'run', '--detach', `--name=${node.container}`, `--hostname=${node.name}`, '--init',
    ...labLabels(plan), '--label', `dr.lab.site=${node.site}`, '--label', `dr.lab.roles=${node.roles.join(',')}`,
    '--label', `dr.lab.node=${node.name}`,
    `--network=${plan.network}`, `--ip=${node.ip}`,
    ...caps.flatMap((c) => ['--cap-add', c]),
    '--security-opt', 'seccomp=unconfined', '--security-opt', 'apparmor=unconfined', '--security-opt', 'systempaths=unconfined',
    '--volume=/sys/fs/cgroup:/sys/fs/cgroup:rw',
    `--mount=type=volume,src=${dockerVolumeName(plan.name, node.name)},dst=/var/lib/docker`,
    // A fresh /run on every start, as on a rebooted host: no stale pid files or sockets.
    '--tmpfs=/run:rw,exec,mode=755',
    image,
  ]
}

/** Create a node's volume and container; drops capabilities an older engine does not know, by name. */
export async function runNode(plan: LabPlan, node: LabNode, image: string, caps: string[]): Promise<string[]> {
  await docker(['volume', 'create', ...labLabels(plan), dockerVolumeName(plan.name, node.name)], { doing: `create the docker volume of ${node.name}` })
  let left = [...caps]
  for (;;) {
    const r = await docker(nodeRunArgs(plan, node, image, left), { nothrow: true })
    if (r.ok) return left
    const unknown = unknownCapIn(r.stderr)
    if (!unknown || !left.includes(unknown)) {
      await docker(['rm', '-f', node.container], { nothrow: true })
      throw new DrError({ code: 'lab.node-failed', message: `could not start lab node ${node.name}`, host: node.name, command: r.command, stderr: r.stderr.trim() })
    }
    left = left.filter((c) => c !== unknown)
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Wait until the node's dockerd answers and its sshd listens (a booting host); a kind node: its containerd. */
export async function waitForNode(node: LabNode, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < until) {
    const r = await dockerExec(node.container, ['sh', '-c', 'if [ -e /etc/dr-lab-kind ]; then ctr version >/dev/null; else docker info --format "{{.ServerVersion}}" >/dev/null && test -s /run/sshd.pid; fi'], { nothrow: true, timeoutMs: 10_000 })
    if (r.ok) return
    last = (r.stderr || r.stdout).trim()
    await sleep(300)
  }
  const log = await dockerExec(node.container, ['tail', '-n', '20', '/var/log/dockerd.log'], { nothrow: true })
  throw new DrError({
    code: 'lab.node-not-ready',
    message: `lab node ${node.name} did not come up within ${timeoutMs / 1000} s`,
    host: node.name,
    stderr: `${last}\n${log.stdout}`,
    hint: `look at \`docker logs ${node.container}\` and /var/log/dockerd.log in the node`,
  })
}

export async function authorizeKey(node: LabNode, publicKey: string): Promise<void> {
  await dockerExec(node.container, ['sh', '-c', 'umask 077 && mkdir -p /root/.ssh && cat > /root/.ssh/authorized_keys'], {
    input: publicKey.trim() + '\n',
    doing: `authorise the lab key on ${node.name}`,
  })
}

/** A login name `lab up --ssh-user` accepts: a plain POSIX user name, never root. */
export const SSH_USER = /^[a-z_][a-z0-9_-]{0,30}$/

// The user gets /bin/sh (dash) as its login shell on purpose: dr must not depend on the login shell being bash.
const ADD_LOGIN_USER = `set -e
id -u "$1" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$1"
home=$(getent passwd "$1" | cut -d: -f6)
umask 077
mkdir -p "$home/.ssh"
cat > "$home/.ssh/authorized_keys"
chown -R "$1:" "$home/.ssh"
printf '%s ALL=(ALL) NOPASSWD: ALL\n' "$1" > /etc/sudoers.d/dr-lab-login
chmod 0440 /etc/sudoers.d/dr-lab-login
visudo -cq -f /etc/sudoers.d/dr-lab-login`

/**
 * An unprivileged login user with passwordless sudo and the lab key (`lab up --ssh-user`). Only root may open the
 * docker socket, so everything dr does there goes through `sudo -n`, as on a host whose policy forbids root logins.
 */
export async function addLoginUser(node: LabNode, user: string, publicKey: string): Promise<void> {
  await dockerExec(node.container, ['sh', '-c', ADD_LOGIN_USER, 'add-login-user', user], {
    input: publicKey.trim() + '\n',
    doing: `create the login user ${user} on ${node.name}`,
  })
}

/** Copy files into a directory of the node through tar, keeping their modes (private keys stay 0600). */
export async function copyInto(node: LabNode, hostDir: string, files: string[], nodeDir: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const tar = spawn('tar', ['-C', hostDir, '-cf', '-', ...files], { stdio: ['ignore', 'pipe', 'pipe'] })
    const ex = spawn('docker', ['exec', '-i', node.container, 'sh', '-c', 'mkdir -p "$1" && tar -xpf - -C "$1" --no-same-owner', 'copy', nodeDir], { stdio: ['pipe', 'ignore', 'pipe'] })
    let err = ''
    tar.stderr.on('data', (d) => (err += d))
    ex.stderr.on('data', (d) => (err += d))
    tar.stdout.pipe(ex.stdin)
    ex.on('close', (code) => (code === 0 ? resolve() : reject(new DrError({ code: 'lab.copy-failed', message: `could not copy ${files.length} files to ${node.name}:${nodeDir}`, host: node.name, stderr: err }))))
  })
}

/** `docker load` the inner images into the node's docker, from the saved tar. */
/**
 * `docker load` the inner images into a node, from the cached tarball, or straight from `docker save` when the
 * tarball is gone (another checkout of dr sharing .lab-cache may have dropped it as stale).
 */
export async function loadImages(node: LabNode, tarFile: string, refs: string[] = []): Promise<void> {
  const load = ['exec', '-i', node.container, 'docker', 'load', '-q']
  let tar: fs.ReadStream | undefined
  try {
    tar = fs.createReadStream('', { fd: fs.openSync(tarFile, 'r') }) // open now: a later unlink cannot hurt
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || refs.length === 0) throw e
    return dockerPipe(['save', ...refs], load, `load the inner images into ${node.name}`)
  }
  await new Promise<void>((resolve, reject) => {
    const ex = spawn('docker', load, { stdio: ['pipe', 'ignore', 'pipe'] })
    let err = ''
    ex.stderr.on('data', (d) => (err += d))
    tar!.on('error', (e) => ((err += String(e)), ex.kill()))
    ex.stdin.on('error', () => {}) // docker load failing early; its exit status and stderr say why
    tar!.pipe(ex.stdin)
    ex.on('close', (code) => (code === 0 ? resolve() : reject(new DrError({ code: 'lab.load-failed', message: `docker load failed on ${node.name}`, host: node.name, stderr: err }))))
  })
}

export async function innerImageLoaded(node: LabNode, ref: string): Promise<boolean> {
  return (await dockerExec(node.container, ['docker', 'image', 'inspect', '--format', '{{.Id}}', ref], { nothrow: true })).ok
}

export async function hostKey(node: LabNode): Promise<string> {
  return dockerText(['exec', node.container, 'cat', '/etc/ssh/ssh_host_ed25519_key.pub'], { doing: `read the host key of ${node.name}` })
}

export interface NodeContainer {
  name: string
  container: string
  site: string
  roles: string[]
  state: string
  ip: string
}

/** Every node container of a lab, found by label (also the stopped ones). */
export async function listNodeContainers(lab: string): Promise<NodeContainer[]> {
  const ids = (await dockerText(['ps', '-aq', '--filter', `label=${LABEL}=${lab}`, '--filter', 'label=dr.lab.node'])).split('\n').filter(Boolean)
  if (ids.length === 0) return []
  const info = JSON.parse(await dockerText(['inspect', ...ids])) as Array<{
    Name: string
    State: { Status: string }
    Config: { Labels: Record<string, string> }
    NetworkSettings: { Networks: Record<string, { IPAddress: string; IPAMConfig?: { IPv4Address?: string } }> }
  }>
  const byAddress = (ip: string) => ip.split('.').map((p) => p.padStart(3, '0')).join('.')
  const nodes = info.map((c) => {
    const net = Object.values(c.NetworkSettings.Networks)[0]
    return {
      name: c.Config.Labels['dr.lab.node'],
      container: c.Name.replace(/^\//, ''),
      site: c.Config.Labels['dr.lab.site'],
      roles: c.Config.Labels['dr.lab.roles'].split(','),
      state: c.State.Status,
      ip: net?.IPAMConfig?.IPv4Address || net?.IPAddress || '',
    }
  })
  // The lab's node order is its address order (master1, master2, node1, master3, node2).
  return nodes.sort((a, b) => byAddress(a.ip).localeCompare(byAddress(b.ip)))
}
