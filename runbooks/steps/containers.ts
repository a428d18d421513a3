// A step that re-creates a container with edited flags, built on src/container's exact re-creation. The step's
// `done` reads the world; a run killed between "old renamed" and "new created" is repaired first by renaming
// the newest kept copy back, so the re-run starts from a real container again.
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

/** The newest `NAME-old-*` copy a re-creation kept, if any. */
async function newestKept(t: Transport, name: string): Promise<string | undefined> {
  const r = await t.$`docker ps -a --filter ${`name=^${name}-old-`} --format '{{.CreatedAt}}\t{{.Names}}'`.nothrow()
  const rows = r.stdout.split('\n').filter(Boolean).sort()
  return rows.at(-1)?.split('\t')[1]
}

/** Bring NAME back when a killed run left only its kept copy. */
async function repairMissing(t: Transport, name: string): Promise<ContainerInspect> {
  const current = await tryInspect(t, name)
  if (current) return current
  const kept = await newestKept(t, name)
  if (!kept) {
    throw new DrError({
      code: 'container.missing',
      message: `there is no ${name} container on ${t.host}, and no kept copy (${name}-old-*) to rebuild it from`,
      host: t.host,
      hint: `check \`docker ps -a\` on ${t.host}; re-create ${name} by hand (dr container run-command works on any container)`,
    })
  }
  await t.$`docker rename ${kept} ${name}`
  return inspectContainer(t, name)
}

/** Boolean flags to add are only added when absent, so re-applying an edit is harmless. */
function normalise(edit: ContainerEdit, c: ContainerInspect | undefined): ContainerEdit {
  const argv = c ? [c.Path, ...(c.Args ?? [])] : []
  return { ...edit, addArgs: (edit.addArgs ?? []).filter((a) => !argv.includes(a)) }
}

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
      const edit = normalise(spec.edit(ctx.facts, ctx.inv), c)
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
      const c = await repairMissing(t, name)
      await recreateContainer(t, name, { ...normalise(spec.edit(ctx.facts, ctx.inv), c), keepRunningCheckMs: 2000 })
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
    ...(e.addArgs ?? []).map((a) => `+${a}`),
    ...(e.removeArgs ?? []).map((a) => `-${a}`),
    ...(e.restartPolicy ? [`restart=${e.restartPolicy.Name}`] : []),
  ]
  return parts.length ? ` (${parts.join(', ')})` : ''
}
