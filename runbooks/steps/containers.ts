// Steps that reconfigure a control-plane component (etcd, kube-apiserver) with edited flags, through
// src/component: an RKE container is re-created exactly (old one kept as NAME-old-<time>), a kubeadm static pod
// gets its manifest edited atomically (old manifest kept outside the manifests directory). The step's `done`
// reads the world; a run killed in the middle converges when run again.
//
// `reconfigureStep` / `componentOf` are the component-based API. `recreateStep`, `etcdContainer`, `tryInspect` and
// `ContainerEdit` keep their old signatures for the runbooks written against containers; they go through the
// component too, so they work on static pods wherever the runtime is docker.
import { DrError } from '../../src/core/error.ts'
import type { Inventory } from '../../src/inventory/types.ts'
import type { ContainerInspect } from '../../src/container/inspect.ts'
import {
  ContainerComponent, componentNamed, componentOf, tryInspect, type Component, type ComponentEdit, type ComponentName, type ComponentState,
} from '../../src/component/index.ts'
import type { Step, StepContext } from '../../src/runbook/types.ts'
import type { Transport } from '../../src/transport/types.ts'

export { componentOf, tryInspect }
export type { Component, ComponentEdit, ComponentName, ComponentState }

export type ContainerEdit = ComponentEdit

/** The container running etcd on this host (RKE: the `etcd` container; kubeadm on docker: the pod's container). */
export const etcdContainer = async (t: Transport, inv: Inventory): Promise<ContainerInspect | undefined> =>
  (await componentOf(inv, t, 'etcd').state())?.container

export interface ReconfigureStepSpec<F> {
  id: string
  title: string
  host: string
  component: ComponentName
  /** The edit; `s` is the component as it is now (e.g. to keep a flag's form when it already holds). */
  edit: (facts: F, inv: Inventory, s: ComponentState | undefined) => ComponentEdit
  /** The end state holds (reads the world). */
  done: (ctx: StepContext<F>, s: ComponentState | undefined) => Promise<boolean>
  /** Wait for the service after the new one runs; returns evidence. */
  after?: (ctx: StepContext<F>) => Promise<string>
}

/** A step that runs a component with edited flags, whatever its kind. */
export function reconfigureStep<F>(spec: ReconfigureStepSpec<F>): Step<F> {
  return componentStep(spec, (ctx, t) => componentOf(ctx.inv, t, spec.component), (ctx, s) => spec.done(ctx, s))
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

/** The container-shaped step: `done` gets the container's inspect (on static pods: the pod's current container). */
export function recreateStep<F>(spec: RecreateStepSpec<F>): Step<F> {
  const resolve = (ctx: StepContext<F>, t: Transport): Component => {
    const name = spec.container(ctx.inv)
    const logical = componentNamed(ctx.inv, name)
    return logical ? componentOf(ctx.inv, t, logical) : new ContainerComponent(t, 'etcd', name)
  }
  return componentStep(spec, resolve, (ctx, s) => spec.done(ctx, s?.container))
}

function componentStep<F>(
  spec: { id: string; title: string; host: string; edit: (facts: F, inv: Inventory, s: ComponentState | undefined) => ComponentEdit; after?: (ctx: StepContext<F>) => Promise<string> },
  resolve: (ctx: StepContext<F>, t: Transport) => Component,
  done: (ctx: StepContext<F>, s: ComponentState | undefined) => Promise<boolean>,
): Step<F> {
  let evidence: string | undefined
  return {
    id: spec.id,
    title: spec.title,
    host: spec.host,
    destructive: true,
    async check(ctx) {
      const c = resolve(ctx, await ctx.conns.get(spec.host))
      const s = await c.state()
      if (await done(ctx, s)) return []
      const d = s || c.kind === 'container' ? await c.describe(spec.edit(ctx.facts, ctx.inv, s)) : { summary: `${c.name} is missing on ${spec.host}`, detail: undefined }
      return [{ host: spec.host, destructive: true, summary: d.summary, command: d.detail }]
    },
    async apply(ctx) {
      const c = resolve(ctx, await ctx.conns.get(spec.host))
      // A short stay-up check is enough: `after` then waits for the service itself (a leader and a write, /readyz).
      await c.reconfigure(spec.edit(ctx.facts, ctx.inv, await c.state()), { keepRunningCheckMs: 500 })
      evidence = spec.after ? await spec.after(ctx) : undefined
    },
    async verify(ctx) {
      const c = resolve(ctx, await ctx.conns.get(spec.host))
      if (!(await done(ctx, await c.state()))) {
        throw new DrError({
          code: 'step.unverified',
          message: `${spec.title}: the new ${c.name} does not hold`,
          host: spec.host,
          exit: 'unverified',
          hint: `look at ${c.logHint()}; run again to resume`,
        })
      }
      return evidence
    },
  }
}
