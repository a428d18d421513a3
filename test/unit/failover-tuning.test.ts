// The forced etcd's start-up tuning (runbooks/failover/etcd-rebuild.ts FORCED_TUNING): what the failover records
// before it changes anything, and how the etcd after the forced one gets the survivor's own values back.
import t from 'tap'
import { FORCED_TUNING, restoredTuning, tuningRestored } from '../../runbooks/failover/etcd-rebuild.ts'
import { editArgs } from '../../src/container/recreate.ts'
import type { FailoverFacts } from '../../runbooks/failover/facts.ts'

const facts = (survivorTuning?: Record<string, string | null>) => ({ decision: { survivorTuning } }) as unknown as FailoverFacts
const rke = ['--name=etcd-master3', '--election-timeout=5000', '--heartbeat-interval=500', '--data-dir=/var/lib/rancher/etcd/']

t.test('the forced etcd gets the fast-start values; the next one gets the recorded ones back', async (t) => {
  const recorded = { '--snapshot-count': null, '--heartbeat-interval': '500', '--election-timeout': '5000' }
  t.same(Object.keys(recorded).sort(), Object.keys(FORCED_TUNING).sort(), 'every tuned flag is recorded')
  const forced = editArgs(rke, { setArgs: FORCED_TUNING, addArgs: ['--force-new-cluster'] })
  t.ok(forced.includes('--election-timeout=1000') && forced.includes('--heartbeat-interval=100') && forced.includes('--snapshot-count=1'), forced.join(' '))
  t.notOk(tuningRestored(facts(recorded), forced), 'the forced values are not the survivor\'s')
  const back = restoredTuning(facts(recorded))
  t.same(back.removeArgs, ['--snapshot-count'], 'a flag the survivor did not set is removed again')
  const after = editArgs(forced, { setArgs: back.setArgs, removeArgs: ['--force-new-cluster', ...back.removeArgs] })
  t.same(after, rke, 'exactly the survivor\'s arguments, in their order')
  t.ok(tuningRestored(facts(recorded), after))
})

t.test('a decision of an older version recorded nothing: nothing is changed or required', async (t) => {
  t.same(restoredTuning(facts(undefined)), { setArgs: {}, removeArgs: [] })
  t.ok(tuningRestored(facts(undefined), ['--snapshot-count=1']), 'nothing to compare with')
})

t.test('a survivor that sets --snapshot-count gets its own value back', async (t) => {
  const recorded = { '--snapshot-count': '10000', '--heartbeat-interval': null, '--election-timeout': null }
  const argv = ['--snapshot-count=10000', '--data-dir=/var/lib/etcd']
  const forced = editArgs(argv, { setArgs: FORCED_TUNING })
  const back = restoredTuning(facts(recorded))
  const after = editArgs(forced, { setArgs: back.setArgs, removeArgs: back.removeArgs })
  t.same(after, argv)
  t.notOk(tuningRestored(facts(recorded), ['--snapshot-count=1', '--data-dir=/var/lib/etcd']))
})
