// `dr lab break stale-container` (seed 002): an exited container holds the name the kubelet needs for the next
// kube-apiserver container, so when the apiserver exits the kubelet cannot start another one. It logs
// CreateContainerError "Conflict. The container name … is already in use" on every retry, the apiserver stays
// down (":6443: connection refused" for every client) and nothing but the kubelet's log says why.
//
// On the kubeadm flavor the lab's kubelet stand-in names containers as dockershim did,
// k8s_<container>_<pod>_<namespace>_<uid>_<attempt>, and retries attempt N+1 after attempt N exits. The fault
// leaves an exited kube-apiserver container (same image and command, run and stopped) under the name of attempt
// N+1, as an interrupted upgrade does — without the kubelet's io.kubernetes.docker.type label, so the kubelet does
// not count it as one of its own (and its garbage collection leaves it alone) — then stops the running apiserver.
// On the RKE flavor there is no such thing: kube-apiserver is one container named by rke and restarted by docker.
import { DrError } from '../core/error.ts'
import type { Output } from '../core/output.ts'
import { readyz } from './api.ts'
import { dockerExec, dockerText } from './docker.ts'
import { labFiles } from './inventory-writer.ts'
import { controlplaneNodes, flavorOf, type LabPlan } from './topology.ts'
import { waitFor } from './wait-for.ts'

export interface StaleContainerBreak {
  node: string
  /** The apiserver container that was running and was stopped. */
  stopped: string
  /** The name the kubelet needs next, and the exited container that holds it. */
  wanted: string
  holderId: string
  /** The kubelet's log line that says so. */
  conflict: string
}

interface Inspect {
  Id: string
  Name: string
  Config: { Image: string; Entrypoint: string[] | null; Cmd: string[] | null; Labels: Record<string, string> | null }
}

/** The next attempt's container name: k8s_<container>_<pod>_<ns>_<uid>_<N> → …_<N+1> (pure). */
export function nextAttemptName(name: string): string {
  const m = /^(k8s_.+_)(\d+)$/.exec(name)
  if (!m) throw new DrError({ code: 'lab.fault-failed', message: `${name} is not a kubelet container name (k8s_<container>_<pod>_<namespace>_<uid>_<attempt>)` })
  return `${m[1]}${Number(m[2]) + 1}`
}

export async function staleContainer(lab: string, plan: LabPlan, out: Output): Promise<StaleContainerBreak> {
  if (flavorOf(plan) !== 'kubeadm') {
    throw new DrError({
      code: 'lab.fault-unsupported',
      message: `stale-container needs a kubeadm-flavor lab; lab ${lab} is flavor ${flavorOf(plan)}, where kube-apiserver is one container named by rke and restarted by docker, with no kubelet naming its attempts`,
      hint: `dr lab up --flavor kubeadm --name <another name>, then dr lab break stale-container --name <that name>`,
      exit: 'usage',
    })
  }
  const node = controlplaneNodes(plan)[0]
  const inner = (argv: string[], doing: string) => dockerExec(node.container, ['docker', ...argv], { doing: `${doing} on ${node.name}` })
  const running = await dockerText(['exec', node.container, 'docker', 'ps', '-q', '--no-trunc', '--filter', 'label=io.kubernetes.container.name=kube-apiserver', '--filter', 'status=running'], { doing: `find the kube-apiserver container on ${node.name}` })
  const id = running.split('\n').filter(Boolean)[0]
  if (!id) throw new DrError({ code: 'lab.fault-failed', host: node.name, message: `no running kube-apiserver container on ${node.name}`, hint: `dr lab status --name ${lab}; the fault needs a healthy apiserver to break` })
  const [api] = JSON.parse((await inner(['inspect', id], 'inspect kube-apiserver')).stdout) as Inspect[]
  const current = api.Name.replace(/^\//, '')
  const wanted = nextAttemptName(current)
  const labels = api.Config.Labels ?? {}

  out.progress(`leaving an exited kube-apiserver container named ${wanted} on ${node.name}`)
  await dockerExec(node.container, ['docker', 'rm', '-f', wanted], { nothrow: true }) // absent is the normal case
  const holderId = (
    await inner([
      'create', '--name', wanted, '--network', 'none',
      '--label', 'dr.lab.fault=stale-container',
      '--label', `io.kubernetes.container.name=${labels['io.kubernetes.container.name'] ?? 'kube-apiserver'}`,
      '--label', `io.kubernetes.pod.name=${labels['io.kubernetes.pod.name'] ?? ''}`,
      '--label', `io.kubernetes.pod.namespace=${labels['io.kubernetes.pod.namespace'] ?? 'kube-system'}`,
      ...(api.Config.Entrypoint?.length ? ['--entrypoint', api.Config.Entrypoint[0]] : []),
      api.Config.Image,
      ...(api.Config.Entrypoint?.slice(1) ?? []), ...(api.Config.Cmd ?? []),
    ], 'create the stale container')
  ).stdout.trim()
  // Run and stopped: "Exited (0)", as the old apiserver in seed 002.
  await inner(['start', holderId], 'start the stale container')
  await inner(['stop', '-t', '5', holderId], 'stop the stale container')

  out.progress(`stopping ${current}: the kubelet needs ${wanted} for the next one`)
  await inner(['stop', '-t', '10', id], 'stop kube-apiserver')

  let conflict = ''
  await waitFor(
    `the kubelet on ${node.name} did not report the name conflict`,
    60_000,
    async () => {
      const log = await dockerExec(node.container, ['sh', '-c', 'docker logs --tail 200 kubelet 2>&1'], { nothrow: true })
      // The holder's ID, not only the name: an earlier break of the same lab logged the same name.
      conflict = log.stdout.split('\n').filter((l) => l.includes(`"/${wanted}" is already in use by container "${holderId}"`)).at(-1) ?? ''
      return conflict !== ''
    },
    async () => (await dockerExec(node.container, ['sh', '-c', 'docker ps -a; docker logs --tail 20 kubelet 2>&1'], { nothrow: true })).stdout,
    `look at the kubelet's log: dr lab ssh ${node.name} --name ${lab} -- docker logs kubelet`,
  )
  const down = await readyz(labFiles(lab).pki, node.ip, 3000)
  if (down.ok) throw new DrError({ code: 'lab.fault-failed', host: node.name, message: `kube-apiserver on ${node.name} still answers /readyz after the fault` })
  out.progress(`kube-apiserver on ${node.name} is down: ${down.text}`)
  return { node: node.name, stopped: current, wanted, holderId, conflict: conflict.trim() }
}
