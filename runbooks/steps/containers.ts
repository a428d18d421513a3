// A step that re-creates a container with edited flags, built on src/container's exact re-creation. The step's
// `done` reads the world; a run killed in the middle of a re-creation is repaired by recreateContainer itself.
import { DrError, isDrError } from '../../src/core/error.ts'
import type { Inventory } from '../../src/inventory/types.ts'
import type { ContainerInspect } from '../../src/container/inspect.ts'
import { inspectContainer, inspectImage } from '../../src/container/inspect.ts'
import { planRecreate, recreateContainer, type RecreateOptions } from '../../src/container/recreate.ts'
import { formatRunCommand } from '../../src/container/run-command.ts'
import type { Step, StepContext } from '../../src/runbook/types.ts'
import type { Transport } from '../../src/transport/types.ts'

export type ContainerEdit = Pick<RecreateOptions, 'setArgs' | 'removeArgs' | 'addArgs' | 'restartPolicy'>

export async function tryInspect(t: Transport, name: string): Promise<ContainerInspect | undefined> {
  try {
    return await inspectContainer(t, name)
  } catch (e) {
    if (isDrError(e) && e.code === 'container.not-found') return undefined
    throw e
  }
}

export const etcdContainer = (t: Transport, inv: Inventory) => tryInspect(t, inv.etcd.container)

export interface RecreateStepSpec<F> {
  id: string
  title: string
  host: string
  container: (inv: Inventory) => string
  edit: (facts: F, inv: Inventory) => ContainerEdit
  /** The end state holds (reads the world). */
  done: (ctx: StepContext<F>, c: ContainerInspect | undefined) => Promise<boolean>
  /** Wait for the service after the new container starts; returns evidence. */
  after?: (ctx: StepContext<F>) => Promise<string>
}

export function recreateStep<F>(spec: RecreateStepSpec<F>): Step<F> {
  let evidence: string | undefined
  return {
    id: spec.id,
    title: spec.title,
    host: spec.host,
    destructive: true,
    async check(ctx) {
      const t = await ctx.conns.get(spec.host)
      const name = spec.container(ctx.inv)
      const c = await tryInspect(t, name)
      if (await spec.done(ctx, c)) return []
      const edit = spec.edit(ctx.facts, ctx.inv)
      let command: string | undefined
      if (c) {
        const image = await inspectImage(t, c.Image).catch(() => null)
        command = formatRunCommand(planRecreate(c, image, { ...edit, name }).argv)
      }
      return [
        {
          host: spec.host,
          destructive: true,
          summary: `re-create ${name}${describeEdit(edit)}; the old container is kept as ${name}-old-<time>`,
          command,
        },
      ]
    },
    async apply(ctx) {
      const t = await ctx.conns.get(spec.host)
      const name = spec.container(ctx.inv)
      // recreateContainer repairs what a killed run left (it records each phase on the host). A short stay-up
      // check is enough: `after` then waits for the service itself (a leader and a write, or /readyz).
      await recreateContainer(t, name, { ...spec.edit(ctx.facts, ctx.inv), keepRunningCheckMs: 500 })
      evidence = spec.after ? await spec.after(ctx) : undefined
    },
    async verify(ctx) {
      const t = await ctx.conns.get(spec.host)
      const c = await tryInspect(t, spec.container(ctx.inv))
      if (!(await spec.done(ctx, c))) {
        throw new DrError({
          code: 'step.unverified',
          message: `${spec.title}: the new container does not hold`,
          host: spec.host,
          exit: 'unverified',
          hint: `docker logs --tail 50 ${spec.container(ctx.inv)} on ${spec.host}; run again to resume`,
        })
      }
      return evidence
    },
  }
}

function describeEdit(e: ContainerEdit): string {
  const parts = [
    ...Object.entries(e.setArgs ?? {}).map(([k, v]) => `${k}=${v}`),
    ...(e.addArgs ?? []).map((a) => `add ${a}`),
    ...(e.removeArgs ?? []).map((a) => `remove ${a}`),
    ...(e.restartPolicy ? [`restart=${e.restartPolicy.Name}`] : []),
  ]
  return parts.length ? ` (${parts.join(', ')})` : ''
}
