// formatError: what an operator reads when dr stops. A command's stderr is cut to its loud lines (the noise of a
// failing tool goes); a list of findings, one per host, is shown whole: a no-quorum error once showed only the one
// host whose reason said "Error", and hid the other three hosts' reasons (a CI run of member.test.ts).
import t from 'tap'
import { DrError, formatError } from '../../src/core/error.ts'

t.test('evidence: every line, whatever its words', async (t) => {
  const e = new DrError({
    code: 'member.no-quorum',
    message: 'no etcd member answers a quorum read (tried master2, master3, master5)',
    evidence: ['master2: 4 DEADLINE_EXCEEDED: Deadline exceeded after 5.001s', 'master3: etcdserver: leader changed', 'master5: 14 UNAVAILABLE: Error: socket disconnected'],
    hint: 'check `dr status`',
  })
  t.equal(
    formatError(e),
    [
      'error[member.no-quorum]: no etcd member answers a quorum read (tried master2, master3, master5)',
      '  | master2: 4 DEADLINE_EXCEEDED: Deadline exceeded after 5.001s',
      '  | master3: etcdserver: leader changed',
      '  | master5: 14 UNAVAILABLE: Error: socket disconnected',
      '  next:    check `dr status`',
    ].join('\n'),
  )
  t.same((e.toJSON() as { evidence?: string[] }).evidence?.length, 3, '--json carries it too')
})

t.test('stderr: the loud lines only, or the last five', async (t) => {
  const noisy = new DrError({ code: 'command.failed', message: 'x failed', stderr: 'reading config\nconnecting\nError: permission denied\nbye' })
  t.equal(formatError(noisy), 'error[command.failed]: x failed\n  | Error: permission denied')
  const quiet = new DrError({ code: 'command.failed', message: 'x failed', stderr: Array.from({ length: 8 }, (_, i) => `line ${i}`).join('\n') })
  t.equal(formatError(quiet), ['error[command.failed]: x failed', ...[3, 4, 5, 6, 7].map((i) => `  | line ${i}`)].join('\n'))
})
