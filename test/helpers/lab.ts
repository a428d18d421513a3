// A lab of a test's own (its own name, so a user's `lab` stays untouched), driven through `dr lab …` as a user
// would, plus a look from outside dr: `docker exec` into a node and into its etcd container, as an operator on
// the host would run etcdctl.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import YAML from 'yaml'
import { dr, ROOT, type DrOptions, type DrRun } from './dr.ts'

const run = promisify(execFile)

/** A test lab's name, prefixed with $DR_LAB_PREFIX when set. */
export const labName = (name: string) => `${process.env.DR_LAB_PREFIX ?? ''}${name}`

export class TestLab {
  readonly inventory: string
  readonly name: string
  /** upOptions: more `dr lab up` options for this lab, e.g. ['--ssh-user', 'dr']. */
  constructor(
    name: string,
    private readonly upOptions: string[] = [],
  ) {
    // DR_LAB_PREFIX keeps labs of two checkouts on one docker engine apart (parallel development).
    this.name = labName(name)
    this.inventory = path.join(ROOT, 'inventories', `${this.name}.yaml`)
  }

  /** `dr ARGS -i <this lab's inventory>` */
  dr(args: string[], opts?: DrOptions): Promise<DrRun> {
    return dr([...args, '-i', this.inventory], opts)
  }

  private async lab(args: string[]): Promise<DrRun> {
    const r = await dr(['lab', ...args, '--name', this.name], { timeoutMs: 900_000 })
    if (r.code !== 0) throw new Error(`dr lab ${args.join(' ')} --name ${this.name} failed (exit ${r.code}):\n${r.stderr.slice(-3000)}`)
    return r
  }
  up = () => this.lab(['up', ...this.upOptions])
  down = () => this.lab(['down'])
  stopSite = (site: string) => this.lab(['stop-site', site])
  startSite = (site: string) => this.lab(['start-site', site])
  partition = (a: string, b: string) => this.lab(['partition', a, b])
  heal = () => this.lab(['heal'])
  /** A new lab (`lab down` also removes the old one's state: journals, decisions). */
  async fresh() {
    await this.down()
    await this.up()
  }

  /**
   * A new lab for a long file: on a machine this busy `lab up` can miss its Ready deadline, and a second `lab up`
   * converges the same lab. `note` says so in the test output.
   */
  async freshWithRetry(note: (message: string) => void) {
    await this.down()
    await this.up().catch(async (e) => {
      note(`lab up failed once, trying again: ${String(e).slice(0, 300)}`)
      await this.up()
    })
  }

  container = (node: string) => `dr-lab-${this.name}-${node}`

  address(node: string): string {
    const inv = YAML.parse(fs.readFileSync(this.inventory, 'utf8')) as { hosts: Record<string, { address: string }> }
    return inv.hosts[node].address
  }

  stateDir(): string {
    const inv = YAML.parse(fs.readFileSync(this.inventory, 'utf8')) as { cluster: string; stateDir?: string }
    return path.resolve(path.dirname(this.inventory), inv.stateDir ?? path.join('.dr', inv.cluster))
  }

  /** A shell command inside a lab node (the node container, not over dr's SSH). */
  async sh(node: string, script: string, timeoutMs = 60_000): Promise<string> {
    const { stdout } = await run('docker', ['exec', this.container(node), 'sh', '-c', script], { timeout: timeoutMs, maxBuffer: 64 << 20 })
    return stdout
  }

  /** etcdctl inside the node's etcd container, with RKE's ETCDCTL_* environment. */
  async etcdctl(node: string, args: string[]): Promise<string> {
    const { stdout } = await run('docker', ['exec', this.container(node), 'docker', 'exec', 'etcd', 'etcdctl', ...args], { timeout: 60_000, maxBuffer: 64 << 20 })
    return stdout
  }

  containerIds = (node: string) => this.sh(node, "docker ps -a --no-trunc --format '{{.Names}} {{.ID}} {{.State}}' | sort")
}
