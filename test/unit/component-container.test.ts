// The RKE kind of component (a docker container): which of docker's answers to a restart-policy update are the
// race with a container in a restart loop (retried), and which are errors.
import t from 'tap'

t.test("docker update's answers while a restart-looping container dies under it are retried; others are not", async (t) => {
  const { RESTART_LOOP_RACE } = await import('../../src/component/container.ts')
  // docker 20.10's words, as seen on the lab (a removed etcd member exits and its restart policy starts it again).
  t.match('Error response from daemon: Cannot update container 3f2a: cannot update a stopped container: unknown', RESTART_LOOP_RACE)
  t.match('Error response from daemon: Cannot update container 870504cee819: runc did not terminate successfully: exit status 1: container not running', RESTART_LOOP_RACE)
  t.notMatch('Error: No such container: etcd', RESTART_LOOP_RACE)
  t.notMatch('Got permission denied while trying to connect to the Docker daemon socket', RESTART_LOOP_RACE)
})
