// Placeholder: the inventory loader (parse, validate, normalise) lands with issue 2.
import { DrError } from '../core/error.ts'
import type { Inventory } from './types.ts'

export async function loadInventory(file: string): Promise<Inventory> {
  throw new DrError({ code: 'not-built', message: `cannot read ${file}: the inventory loader is not built yet`, exit: 'usage' })
}
