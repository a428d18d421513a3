// The drill scenarios by name, in the order `dr drill --help` lists them.
import { DrError } from '../../core/error.ts'
import type { Scenario } from '../types.ts'
import { memberLoss } from './member-loss.ts'
import { siteLoss } from './site-loss.ts'
import { siteReturn } from './site-return.ts'
import { totalLoss } from './total-loss.ts'

export const SCENARIOS: Scenario[] = [siteLoss, siteReturn, memberLoss, totalLoss]

export function scenarioNamed(name: string): Scenario {
  const s = SCENARIOS.find((x) => x.name === name)
  if (!s) throw new DrError({ code: 'drill.no-such-scenario', message: `there is no drill scenario "${name}"`, hint: `scenarios: ${SCENARIOS.map((x) => x.name).join(', ')}`, exit: 'usage' })
  return s
}
