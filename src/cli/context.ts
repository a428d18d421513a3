// What every command gets: the global options, an Output, and the inventory on demand.
import fs from 'node:fs'
import path from 'node:path'
import { DrError } from '../core/error.ts'
import { Output } from '../core/output.ts'
import type { Inventory } from '../inventory/types.ts'

export interface GlobalOptions {
  inventory?: string
  json: boolean
  yes: boolean
  plan: boolean
  verbose: boolean
}

export { projectRoot } from '../core/paths.ts'
import { projectRoot } from '../core/paths.ts'

export class CliContext {
  readonly out: Output
  private inv?: Inventory
  constructor(readonly opts: GlobalOptions) {
    this.out = new Output({ json: opts.json, verbose: opts.verbose })
  }

  /** The inventory file in use: -i, else $DR_INVENTORY, else inventories/lab.yaml when it exists. */
  inventoryPath(): string {
    if (this.opts.inventory) return path.resolve(this.opts.inventory)
    if (process.env.DR_INVENTORY) return path.resolve(process.env.DR_INVENTORY)
    const lab = path.join(projectRoot, 'inventories/lab.yaml')
    if (fs.existsSync(lab)) return lab
    throw new DrError({
      code: 'inventory.none',
      message: 'no inventory given, $DR_INVENTORY is not set, and there is no lab inventory',
      hint: 'pass -i FILE (see inventories/examples/), or run `dr lab up` to create inventories/lab.yaml',
      exit: 'usage',
    })
  }

  async inventory(): Promise<Inventory> {
    if (this.inv) return this.inv
    const file = this.inventoryPath()
    const { loadInventory } = await import('../inventory/load.ts')
    // Design warnings (a site holding the majority) are `dr inventory check`'s job; here only with -v.
    this.inv = await loadInventory(file, { warn: (m) => this.out.debug(m) })
    this.out.debug(`inventory: ${file}`)
    return this.inv
  }
}
