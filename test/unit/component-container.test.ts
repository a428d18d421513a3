// The RKE kind of component (a docker container): which of docker's answers to a restart-policy update are the
// race with a container in a restart loop (retried), and which are errors.
import t from 'tap'

t.test("docker update's answers while a restart-looping container dies under it are retried; others are not", async (t) => {
  const { RESTART_LOOP_RACE } = await import('../../src/component/container.ts')
  // docker 20.10's words, as seen on the lab (a removed etcd member exits and its restart policy starts it again).
  t.match('Error response from daemon: Cannot update container 3f2a: cannot update a stopped container: unknown', RESTART_LOOP_RACE)
  t.match('Error response from daemon: Cannot update container 870504cee819: runc did not terminate successfully: exit status 1: container not running', RESTART_LOOP_RACE)
  t.match('Error response from daemon: Cannot update container aeb453061a06: cannot update a deleted process: unknown', RESTART_LOOP_RACE)
  t.notMatch('Error: No such container: etcd', RESTART_LOOP_RACE)
  t.notMatch('Got permission denied while trying to connect to the Docker daemon socket', RESTART_LOOP_RACE)
})

t.test('disableRestart retries the restart-loop race and stops on any other answer', async (t) => {
  const fs = await import('node:fs')
  const os = await import('node:os')
  const path = await import('node:path')
  const { disableRestart } = await import('../../src/component/container.ts')
  const { LocalTransport } = await import('../../src/transport/local.ts')
  // A `docker` on PATH that answers as docker 20.10 does while a container restart-loops, a set number of times.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-disable-restart-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const calls = path.join(dir, 'calls')
  fs.writeFileSync(
    path.join(dir, 'docker'),
    `#!/bin/sh\necho "$*" >> ${calls}\nn=$(wc -l < ${calls})\nif [ "$n" -le "$FAILS" ]; then echo "$ANSWER" >&2; exit 1; fi\nexit 0\n`,
    { mode: 0o755 },
  )
  const saved = { PATH: process.env.PATH, FAILS: process.env.FAILS, ANSWER: process.env.ANSWER }
  t.teardown(() => Object.assign(process.env, saved))
  process.env.PATH = `${dir}:${process.env.PATH}`
  const local = new LocalTransport('master2')
  const lines = () => fs.readFileSync(calls, 'utf8').trim().split('\n')

  process.env.FAILS = '3'
  process.env.ANSWER = 'Error response from daemon: Cannot update container f79c: cannot update a stopped container: unknown'
  await disableRestart(local, ['etcd', 'kube-apiserver'])
  t.same(lines(), Array(4).fill('update --restart=no etcd kube-apiserver'), 'three race answers retried, the fourth call succeeds')

  fs.rmSync(calls)
  process.env.FAILS = '1'
  process.env.ANSWER = 'Error: No such container: etcd'
  const e = await disableRestart(local, 'etcd').then(() => undefined, (e) => e)
  t.match(e, { code: 'command.failed', host: 'master2', stderr: /No such container/ }, 'any other answer is an error at once, named for the host')
  t.equal(lines().length, 1, 'and is not retried')
})
