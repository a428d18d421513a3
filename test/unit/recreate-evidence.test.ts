// A stale re-creation record never removes a container the re-creation did not make (compared by id, or by the
// host clock recorded just before the create call when the id was never recorded).
import t from 'tap'
import { madeByThisRun } from '../../src/container/recreate.ts'

const at = (epoch: number) => new Date(epoch * 1000).toISOString()
const T = 1_764_600_000

t.test('by id when the new id was recorded', async (t) => {
  t.equal(madeByThisRun({ Id: 'abc', Created: at(T) }, { newId: 'abc\n', phase: 'starting-new', createAfter: T }), true)
  t.equal(madeByThisRun({ Id: 'xyz', Created: at(T) }, { newId: 'abc', phase: 'starting-new', createAfter: T }), false)
})

t.test('by the recorded clock window when killed between create and recording the id', async (t) => {
  t.equal(madeByThisRun({ Id: 'n', Created: at(T + 1) }, { phase: 'creating-new', createAfter: T }), true)
  t.equal(madeByThisRun({ Id: 'n', Created: at(T - 3600) }, { phase: 'creating-new', createAfter: T }), false, 'made before this run')
  t.equal(madeByThisRun({ Id: 'n', Created: at(T + 86_400) }, { phase: 'creating-new', createAfter: T }), false, 'made long after: someone else')
  t.equal(madeByThisRun({ Id: 'n', Created: at(T) }, { phase: 'creating-new' }), false, 'no window recorded (an older record)')
  t.equal(madeByThisRun({ Id: 'n', Created: 'garbage' }, { phase: 'creating-new', createAfter: T }), false)
})

t.test('never while the old one was still being stopped', async (t) => {
  t.equal(madeByThisRun({ Id: 'n', Created: at(T) }, { phase: 'stopping-old', createAfter: T }), false)
})
