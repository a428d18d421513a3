import t from 'tap'
import { addArgs, getFlag, getFlagAll, hasFlag, parseFlags, removeFlag, setFlag, setFlagAll } from '../../src/container/command-flags.ts'

// Seed 003's etcd command, after the executable.
const etcd = [
  '--listen-client-urls=https://0.0.0.0:2379',
  '--initial-cluster-state=new',
  '--initial-cluster=etcd-master1=https://192.168.31.101:2380,etcd-master2=https://192.168.31.102:2380,etcd-master3=https://192.168.31.103:2380',
  '--data-dir=/var/lib/rancher/etcd/',
  '--client-cert-auth=true',
  '--name=etcd-master3',
  '--enable-v2=true',
]

t.test('parses --flag=value, --flag value, booleans, single dash, and stops at --', async (t) => {
  const args = ['--a=1', '--b', 'two', '--c', '--d=', '-e=x', '-f', 'y', 'positional', '--', '--g=1']
  t.same(
    parseFlags(args).map((f) => [f.name, f.value, f.form, f.index, f.count]),
    [
      ['a', '1', 'eq', 0, 1],
      ['b', 'two', 'sep', 1, 2],
      ['c', undefined, 'bool', 3, 1],
      ['d', '', 'eq', 4, 1],
      ['e', 'x', 'eq', 5, 1],
      ['f', 'y', 'sep', 6, 2],
    ],
  )
  t.same(parseFlags(['--force', 'pos'], { booleans: ['force'] }).map((f) => f.form), ['bool'], 'a known boolean does not take the next word')
  t.equal(getFlag(['--x=a=b,c=d'], 'x'), 'a=b,c=d', 'only the first = separates')
  t.equal(getFlag(['--x=1', '--x=2'], '--x'), '2', 'the last one wins')
  t.same(getFlagAll(['--x=1', '--y', '--x', '2'], 'x'), ['1', '2'])
  t.equal(getFlag(['--force-new-cluster'], 'force-new-cluster'), 'true')
  t.ok(hasFlag(['-name=x'], '--name'), "Go's single dash")
  t.notOk(hasFlag(['--names=x'], 'name'), 'no prefix matches')
  t.equal(getFlag(['--x=line1\nline2'], 'x'), 'line1\nline2')
})

t.test('set replaces in place, in the form it was written, and keeps everything else byte for byte', async (t) => {
  const self = 'etcd-master3=https://192.168.31.103:2380'
  const out = setFlag(etcd, '--initial-cluster', self)
  t.same(out, [...etcd.slice(0, 2), `--initial-cluster=${self}`, ...etcd.slice(3)])
  t.same(setFlag(['--a', 'x', 'pos'], 'a', 'y'), ['--a', 'y', 'pos'], '--flag value stays two words')
  t.same(setFlag(['-a=x'], 'a', 'y'), ['-a=y'], 'single dash kept')
  t.same(setFlag(['--a=1', '--b', '--a=2'], 'a', '3'), ['--a=3', '--b'], 'repeats collapse to the first')
  t.same(setFlag(['--a=1'], 'b', '2'), ['--a=1', '--b=2'], 'missing: appended')
  t.same(setFlag(['--a=1', '--', 'x'], 'b', '2'), ['--a=1', '--b=2', '--', 'x'], 'before a -- terminator')
  t.same(setFlag(['--v'], 'v', 'false'), ['--v=false'], 'a bare boolean gets a value')
  t.same(setFlag(['--v=false'], 'v', true), ['--v'], 'true makes it bare')
  t.same(setFlag([], 'v', true), ['--v'])
  t.same(setFlag(['--x=a b'], 'x', '$(touch /tmp/p) `id`'), ['--x=$(touch /tmp/p) `id`'], 'values are data')
  t.same(setFlagAll(['--e=1', '--k', '--e=2'], 'e', ['a', 'b', 'c']), ['--e=a', '--e=b', '--e=c', '--k'])
  t.same(setFlagAll(['--k'], 'e', ['a']), ['--k', '--e=a'])
})

t.test('remove takes every occurrence and its value word, nothing else', async (t) => {
  t.same(removeFlag([...etcd, '--force-new-cluster'], 'force-new-cluster'), etcd)
  t.same(removeFlag(['--a', 'x', '--b=1', '--a=y', 'pos'], '--a'), ['--b=1', 'pos'])
  t.same(removeFlag(['--a=1'], 'zzz'), ['--a=1'], 'absent: unchanged')
  t.same(removeFlag(['--keep', '--drop'], 'drop'), ['--keep'])
})

t.test('add appends words only when missing (re-running an edit is harmless)', async (t) => {
  t.same(addArgs(etcd, ['--force-new-cluster']), [...etcd, '--force-new-cluster'])
  t.same(addArgs([...etcd, '--force-new-cluster'], ['--force-new-cluster']), [...etcd, '--force-new-cluster'])
  t.same(addArgs(['a', '--', 'b'], ['--x']), ['a', '--x', '--', 'b'])
})
