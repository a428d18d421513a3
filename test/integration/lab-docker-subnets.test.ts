// dockerSubnets (src/lab/up.ts), how `dr lab up` finds a free /24, against the real docker engine: a network that
// another lab removes between `docker network ls` and `docker network inspect` must not fail the up (seen in CI, with
// three labs starting and stopping at once). The race is made to happen every time by a docker runner that removes a
// network just before the inspect; docker's own answer to that is what the retry must recognise.
import t from 'tap'
import { docker } from '../../src/lab/docker.ts'
import { dockerSubnets } from '../../src/lab/up.ts'

t.setTimeout(120_000)

const prefix = `drtest-subnets-${process.pid}`
let made = 0

async function network(): Promise<{ name: string; subnet: string }> {
  const name = `${prefix}-${++made}`
  await docker(['network', 'create', '--label', 'dr.test=1', name])
  const subnet = (await docker(['network', 'inspect', '--format', '{{(index .IPAM.Config 0).Subnet}}', name])).stdout.trim()
  return { name, subnet }
}

t.teardown(async () => {
  const left = (await docker(['network', 'ls', '-q', '--filter', `name=${prefix}`])).stdout.split('\n').filter(Boolean)
  if (left.length) await docker(['network', 'rm', ...left], { nothrow: true })
})

/**
 * docker itself, racing another lab `times` times: before each of those lists a network of this test is made, so the
 * list names it, and it is removed just before the inspect. Records docker's answer to each inspect.
 */
function racingDocker(times: number) {
  const seen = { inspects: 0, answers: [] as string[] }
  let doomed: string | undefined
  const run: typeof docker = async (args, o) => {
    if (args[0] === 'network' && args[1] === 'ls' && seen.inspects < times) doomed = (await network()).name
    if (args[0] === 'network' && args[1] === 'inspect') {
      seen.inspects++
      if (doomed) await docker(['network', 'rm', doomed])
      doomed = undefined
      const r = await docker(args, o)
      seen.answers.push(r.ok ? 'ok' : r.stderr.trim())
      return r
    }
    return docker(args, o)
  }
  return { run, seen }
}

t.test('every network subnet is listed', async (t) => {
  const a = await network()
  t.ok((await dockerSubnets()).includes(a.subnet), `${a.subnet} of ${a.name} is among the subnets`)
})

t.test('a network removed between the list and the inspect: the list is read again', async (t) => {
  const kept = await network()
  const { run, seen } = racingDocker(1)
  const subnets = await dockerSubnets(run)
  t.equal(seen.inspects, 2, 'inspected twice: the first answer was the race')
  t.match(seen.answers[0], /network \S+ not found/, "docker's own answer for the removed network")
  t.equal(seen.answers[1], 'ok')
  t.ok(subnets.includes(kept.subnet), 'the networks still there are listed')
})

t.test('removed three times in a row: docker’s error, not a wrong list', async (t) => {
  const { run, seen } = racingDocker(3)
  await t.rejects(dockerSubnets(run), { code: 'lab.docker-failed', stderr: /network \S+ not found/ })
  t.equal(seen.inspects, 3, 'three attempts, no more')
})
