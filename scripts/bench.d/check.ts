// `dr check` against Ansible on 30 (BENCH_CHECK_HOSTS) light SSH-only hosts: plain containers of the lab's node
// image running sshd alone on a network of their own. Both run the same command per host (dr's node-facts script:
// the clock, docker, df, swap, listening ports, the containers) with the same parallelism (BENCH_CHECK_FORKS,
// default 10): dr as `dr check preflight nodes`, Ansible as a one-task playbook of a `raw` task (no Python needed
// on the hosts, Ansible's fastest path; like dr, a failing command is data, not a failed run). Every run starts
// cold: Ansible gets a fresh ControlPath directory per run (its ControlPersist would otherwise hand the next run
// open connections that dr does not get). Prints both times (best of BENCH_CHECK_RUNS, default 3), the ratio and
// the machine's load average beside them. Asserts nothing.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import YAML from 'yaml'
import { ensureImages } from '../../src/lab/images.ts'
import { Output } from '../../src/core/output.ts'
import { factsScript } from '../../src/check/host-facts.ts'

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..')
const N = Number(process.env.BENCH_CHECK_HOSTS ?? 30)
const FORKS = Number(process.env.BENCH_CHECK_FORKS ?? 10)
const RUNS = Number(process.env.BENCH_CHECK_RUNS ?? 3)
const NAME = `${process.env.DR_LAB_PREFIX ?? ''}check-bench`
const NET = `dr-lab-${NAME}`

const sh = (argv: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}) => {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', input: opts.input, env: { ...process.env, ...opts.env }, cwd: opts.cwd, maxBuffer: 256 << 20 })
  return { ok: r.status === 0, stdout: r.stdout ?? '', stderr: r.stderr ?? '', status: r.status }
}
const must = (argv: string[], opts?: Parameters<typeof sh>[1]) => {
  const r = sh(argv, opts)
  if (!r.ok) throw new Error(`${argv.slice(0, 4).join(' ')} … failed (${r.status}): ${r.stderr.slice(-1500)}`)
  return r.stdout
}

function cleanup() {
  const ids = sh(['docker', 'ps', '-aq', '--filter', `label=dr.lab=${NAME}`]).stdout.split('\n').filter(Boolean)
  if (ids.length) sh(['docker', 'rm', '-f', ...ids])
  sh(['docker', 'network', 'rm', NET])
}

function freeSubnet(): string {
  const used = sh(['sh', '-c', "docker network inspect $(docker network ls -q) --format '{{range .IPAM.Config}}{{.Subnet}} {{end}}'"]).stdout
  for (let i = 200; i < 250; i++) if (!used.includes(`172.30.${i}.0/24`)) return `172.30.${i}.0/24`
  throw new Error('no free 172.30.N.0/24')
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-bench-check-'))
cleanup()
try {
  const images = await ensureImages(new Output({ json: false, verbose: false }))
  const subnet = freeSubnet()
  const prefix = subnet.replace(/\.0\/24$/, '')
  must(['docker', 'network', 'create', `--subnet=${subnet}`, '--label', `dr.lab=${NAME}`, NET])
  const key = path.join(work, 'id_ed25519')
  must(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', key])
  const pub = fs.readFileSync(`${key}.pub`, 'utf8').trim()
  const hosts = Array.from({ length: N }, (_, i) => ({ name: `h${i + 1}`, ip: `${prefix}.${10 + i}`, container: `dr-lab-${NAME}-h${i + 1}` }))
  console.log(`starting ${N} SSH-only hosts on ${NET} (${subnet})`)
  const t0 = Date.now()
  for (const h of hosts) {
    must(['docker', 'run', '-d', '--name', h.container, '--label', `dr.lab=${NAME}`, '--network', NET, '--ip', h.ip, '--tmpfs', '/run:rw,mode=755', '-e', `KEY=${pub}`,
      '--entrypoint', 'sh', images.node, '-c', 'mkdir -p /run/sshd /root/.ssh && chmod 700 /root/.ssh && echo "$KEY" > /root/.ssh/authorized_keys && ssh-keygen -A >/dev/null && exec /usr/sbin/sshd -D -e'])
  }
  const known: string[] = []
  for (const h of hosts) {
    let k = ''
    for (let i = 0; i < 100 && !k; i++) {
      const r = sh(['docker', 'exec', h.container, 'sh', '-c', 'test -s /run/sshd.pid && cat /etc/ssh/ssh_host_ed25519_key.pub'])
      if (r.ok) k = r.stdout.trim().split(/\s+/).slice(0, 2).join(' ')
      else spawnSync('sleep', ['0.3'])
    }
    if (!k) throw new Error(`sshd on ${h.container} did not start`)
    known.push(`${h.ip} ${k}`)
  }
  console.log(`hosts up in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  fs.writeFileSync(path.join(work, 'known_hosts'), known.join('\n') + '\n')

  const inv = {
    cluster: NAME,
    flavor: 'rke',
    ssh: { user: 'root', port: 22, identityFile: key, knownHosts: path.join(work, 'known_hosts'), concurrency: FORKS, connectTimeoutMs: 20000 },
    sites: { A: { hosts: hosts.map((h) => h.name) } },
    hosts: Object.fromEntries(hosts.map((h) => [h.name, { address: h.ip, roles: ['worker'] }])),
    stateDir: path.join(work, 'state'),
  }
  const invFile = path.join(work, 'inventory.yaml')
  fs.writeFileSync(invFile, YAML.stringify(inv))

  // The same command for Ansible: the facts script, dr's one exec per host.
  // docker's --format templates look like Jinja2 to Ansible: {% raw %} keeps them as they are.
  const script = factsScript({ dataDir: '/var/lib/etcd' })
  fs.writeFileSync(path.join(work, 'hosts.ini'), '[all]\n' + hosts.map((h) => `${h.name} ansible_host=${h.ip}`).join('\n') + '\n')
  fs.writeFileSync(path.join(work, 'check.yml'), YAML.stringify([{ hosts: 'all', gather_facts: false, tasks: [
    { name: 'node facts', raw: `{% raw %}${script}{% endraw %}`, changed_when: false, failed_when: false },
  ] }]))
  const ansibleEnv = {
    ANSIBLE_HOST_KEY_CHECKING: 'True',
    ANSIBLE_SSH_ARGS: `-o UserKnownHostsFile=${path.join(work, 'known_hosts')} -o ControlMaster=auto -o ControlPersist=60s`,
    ANSIBLE_PRIVATE_KEY_FILE: key,
    ANSIBLE_REMOTE_USER: 'root',
    ANSIBLE_FORKS: String(FORKS),
    ANSIBLE_LOCAL_TEMP: path.join(work, 'ansible-tmp'),
    ANSIBLE_NOCOLOR: '1',
  }

  // Where the CPU goes: every one of the N hosts shares this machine's cores with the tool checking them, so the
  // wall time holds the hosts' sshd and script as well as the tool's own work. The hosts' CPU is their containers'
  // cgroups; the tool's is a cgroup of its own that the run starts in, so that what it leaves running counts too
  // (Ansible's ControlPersist ssh masters detach from it and do the key exchanges). cgroup v1 cpuacct or v2.
  const ids = sh(['docker', 'ps', '-q', '--no-trunc', '--filter', `label=dr.lab=${NAME}`]).stdout.split('\n').filter(Boolean)
  const cpuOf = (dir: string): number | undefined => {
    if (fs.existsSync(`${dir}/cpuacct.usage`)) return Number(fs.readFileSync(`${dir}/cpuacct.usage`, 'utf8')) / 1e9
    if (fs.existsSync(`${dir}/cpu.stat`)) return Number(/usage_usec (\d+)/.exec(fs.readFileSync(`${dir}/cpu.stat`, 'utf8'))?.[1]) / 1e6
    return undefined
  }
  const hostsCpuSecs = (): number | undefined => {
    let sum = 0
    for (const id of ids) {
      const dir = [`/sys/fs/cgroup/cpuacct/docker/${id}`, `/sys/fs/cgroup/system.slice/docker-${id}.scope`, `/sys/fs/cgroup/docker/${id}`].find((d) => cpuOf(d) !== undefined)
      if (!dir) return undefined
      sum += cpuOf(dir)!
    }
    return sum
  }
  const cgRoot = ['/sys/fs/cgroup/cpuacct', '/sys/fs/cgroup'].find((d) => fs.existsSync(`${d}/cgroup.procs`))
  let cgN = 0
  /** A fresh cgroup for one run, or undefined where none can be made (then the tool's CPU is not printed). */
  const runCgroup = (): string | undefined => {
    if (!cgRoot) return undefined
    const dir = path.join(cgRoot, `dr-bench-check-${process.pid}-${cgN++}`)
    try {
      fs.mkdirSync(dir)
      return dir
    } catch (e) {
      console.log(`(no cgroup for the tools' own CPU: ${(e as Error).message})`)
      return undefined
    }
  }
  const dropCgroup = (dir: string) => {
    const left = fs.readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n').filter(Boolean)
    for (const pid of left) sh(['kill', pid])
    for (let i = 0; i < 50 && fs.readFileSync(`${dir}/cgroup.procs`, 'utf8').trim(); i++) spawnSync('sleep', ['0.1'])
    fs.rmdirSync(dir)
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const time = (label: string, argv: string[], env: () => NodeJS.ProcessEnv, proof: (stdout: string) => string | undefined) => {
    const best: number[] = []
    const own: number[] = []
    const hostsCpu: number[] = []
    for (let i = 0; i < RUNS; i++) {
      const e = env()
      const h0 = hostsCpuSecs()
      const s = Date.now()
      const cg = runCgroup()
      const r = sh(cg ? ['bash', '-c', 'echo $$ > "$CG/cgroup.procs" && exec "$@"', 'bench', ...argv] : argv, { env: { ...e, CG: cg }, cwd: ROOT })
      const secs = (Date.now() - s) / 1000
      const h1 = hostsCpuSecs()
      const { stdout, stderr } = r
      if (r.status !== 0 && r.status !== 5) throw new Error(`${label} failed (${r.status}): ${(stderr || stdout).slice(-1500)}`)
      // A fast run that did not reach every host would be no figure at all.
      const wrong = proof(stdout)
      if (wrong) throw new Error(`${label}: ${wrong}`)
      best.push(secs)
      if (cg) {
        own.push(cpuOf(cg)!)
        dropCgroup(cg)
      }
      if (h0 !== undefined && h1 !== undefined) hostsCpu.push(h1 - h0)
    }
    const min = Math.min(...best)
    console.log(`${label.padEnd(44)} best ${min.toFixed(2).padStart(6)} s   runs: ${best.map((x) => x.toFixed(2)).join(', ')}`)
    const cpu = { own: own.length ? median(own) : undefined, hosts: hostsCpu.length ? median(hostsCpu) : undefined }
    console.log(`${''.padEnd(44)} CPU by median: its own processes ${cpu.own?.toFixed(2) ?? '?'} s; the ${N} hosts (sshd + the script) ${cpu.hosts?.toFixed(2) ?? '?'} s`)
    return { secs: min, cpu }
  }
  const load = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
  let cold = 0
  const drInside: number[] = []
  const drProof = (out: string) => {
    const j = JSON.parse(out) as { durationMs: number; results: Array<{ check: string; status: string }> }
    drInside.push(j.durationMs / 1000)
    const ssh = j.results.filter((x) => x.check === 'ssh' && x.status === 'ok').length
    return ssh === N ? undefined : `reached ${ssh} of ${N} hosts`
  }
  const anProof = (out: string) => {
    const okHosts = out.split('\n').filter((l) => /\bok=1\b.*\bunreachable=0\b.*\bfailed=0\b/.test(l)).length
    return okHosts === N ? undefined : `the recap shows ${okHosts} of ${N} hosts ok`
  }
  console.log(`\n${N} hosts, ${FORKS} at a time, best of ${RUNS} (load average before: ${load()}, ${os.cpus().length} CPUs):`)
  const dr = time('dr check preflight nodes', [process.execPath, path.join(ROOT, 'bin/dr.js'), 'check', 'preflight', 'nodes', '-i', invFile, '--json'], () => ({ CI: 'true' }), drProof)
  console.log(`  (dr's own count of its checking, connections included: ${drInside.map((x) => x.toFixed(2)).join(', ')} s; the rest is node's start-up and exit)`)
  const an = time('ansible-playbook (1 raw task)', ['ansible-playbook', '-i', path.join(work, 'hosts.ini'), '-f', String(FORKS), path.join(work, 'check.yml')],
    () => ({ ...ansibleEnv, ANSIBLE_SSH_CONTROL_PATH_DIR: fs.mkdtempSync(path.join(work, `cp${cold++}-`)) }), anProof)
  console.log(`\nratio: Ansible / dr = ${(an.secs / dr.secs).toFixed(1)}×  (aim: ≥ 5×; load average after: ${load()})`)
  if (an.cpu.own !== undefined && dr.cpu.own !== undefined)
    console.log(`controller CPU: Ansible / dr = ${(an.cpu.own / dr.cpu.own).toFixed(1)}× (${an.cpu.own.toFixed(2)} s / ${dr.cpu.own.toFixed(2)} s). Here the ${N} hosts share these`)
  console.log(`${os.cpus().length} cores with the tool, so their ${dr.cpu.hosts?.toFixed(2) ?? '?'} s (dr) and ${an.cpu.hosts?.toFixed(2) ?? '?'} s (Ansible) of sshd and script count in the wall times above.`)
} finally {
  // BENCH_CHECK_KEEP=1 leaves the hosts and the inventory for profiling by hand (then run it again to clean up).
  if (process.env.BENCH_CHECK_KEEP === '1') console.log(`kept: ${N} hosts (label dr.lab=${NAME}), inventory ${path.join(work, 'inventory.yaml')}`)
  else {
    cleanup()
    fs.rmSync(work, { recursive: true, force: true })
  }
}
