// `dr run` with the examples in runbooks/examples/ on a lab of its own, as an operator runs them: --plan changes
// nothing, --yes applies, a run killed in the middle resumes and converges, and a re-run has nothing to do. What
// each one did is checked from outside dr (docker exec into the nodes, openssl, etcdctl).
import t from 'tap'
import path from 'node:path'
import { dr, ROOT } from '../helpers/dr.ts'
import { TestLab } from '../helpers/lab.ts'

t.setTimeout(1_500_000)
const lab = new TestLab('e2e-run')
const run = (file: string, flags: string[], args: string[], opts: Parameters<typeof dr>[1] = {}) =>
  dr(['run', path.join(ROOT, 'runbooks/examples', file), '-i', lab.inventory, ...flags, '--', ...args], { timeoutMs: 400_000, ...opts })

t.before(async () => {
  await lab.fresh()
  await lab.sh('master1', `docker exec etcd sh -c 'for i in $(seq 1 20); do etcdctl put /registry/e2e-run/key-$i value-$i >/dev/null; done'`, 120_000)
})
t.teardown(() => lab.down())

t.test('pre-flight: passes on a healthy lab, fails with exit 5 and the host named when a disk is nearly full', async (t) => {
  const ok = await run('preflight.mjs', ['--plan'], [])
  t.equal(ok.code, 0, ok.stderr)
  t.match(ok.stdout, /Nothing to do: every step already holds/)
  // A small, nearly full filesystem on master2 only (a tmpfs inside the node), at a path every etcd host has.
  for (const n of ['master1', 'master2', 'master3']) await lab.sh(n, 'mkdir -p /mnt/small')
  await lab.sh('master2', 'mount -t tmpfs -o size=8m tmpfs /mnt/small && dd if=/dev/zero of=/mnt/small/fill bs=1M count=7 2>/dev/null')
  t.teardown(() => lab.sh('master2', 'umount /mnt/small'))
  const low = await run('preflight.mjs', ['--yes'], ['--path', '/mnt/small', '--min-free', '20'])
  t.equal(low.code, 5, 'a check found problems: exit 5')
  t.match(low.stderr, /error\[run\.check-failed\]: Check free disk under \/mnt\/small on every etcd host: master2: 12% free/)
  t.notMatch(low.stderr, /master1:|master3:/, 'only the full host is named')
  const bad = await run('preflight.mjs', ['--plan'], ['--min-free', 'lots'])
  t.equal(bad.code, 2, 'a bad argument is a usage error')
  t.match(bad.stderr, /--min-free must be a positive number/)
})

t.test('renew the etcd certificate of master3: plan, a run killed after the install, a resumed run', async (t) => {
  const pki = path.join(path.dirname(lab.inventory), lab.name, 'pki')
  const args = ['--host', 'master3', '--ca-cert', path.join(pki, 'kube-ca.pem'), '--ca-key', path.join(pki, 'kube-ca-key.pem'), '--days', '7300', '--renew-within', '3700']
  const served = () => lab.sh('master3', 'openssl s_client -connect 127.0.0.1:2379 -servername localhost </dev/null 2>/dev/null | openssl x509 -noout -serial -enddate')
  const before = await served()
  const started = Date.now()

  const plan = await run('renew-etcd-cert.mjs', ['--plan'], args)
  t.equal(plan.code, 0, plan.stderr)
  t.match(plan.stdout, /master1: replace .*kube-etcd-.*\.pem/)
  t.match(plan.stdout, /master3: replace /)
  t.match(plan.stdout, /Restart etcd on master3 .*\[DESTRUCTIVE\]/)
  t.equal(await served(), before, '--plan changed nothing')

  const killed = await run('renew-etcd-cert.mjs', ['--yes'], args, { env: { DR_TEST_CRASH_AFTER_STEP: 'install-cert' } })
  t.equal(killed.signal, 'SIGKILL', 'killed right after the new certificate was installed')
  const files = await lab.sh('master1', 'ls /etc/kubernetes/ssl')
  t.match(files, /kube-etcd-.*\.pem\.dr-old-/, 'the old certificate is kept beside the new one')

  const resumed = await run('renew-etcd-cert.mjs', ['--yes'], args)
  t.equal(resumed.code, 0, resumed.stderr)
  t.match(resumed.stderr, /Sign a new certificate .* nothing to do/, 'the install is not done twice')
  t.match(resumed.stderr, /Restart etcd on master3 .* done/)
  t.match(resumed.stdout, /serves serial [0-9A-F]+ \(valid until .*2046/)
  const after = await served()
  t.not(after, before, 'etcd serves another certificate')
  t.match(after, /notAfter=.*20(4[5-7])/, 'valid for 20 more years')
  const sameOnAll = await Promise.all(['master1', 'master2', 'master3'].map((n) => lab.sh(n, `sha256sum /etc/kubernetes/ssl/kube-etcd-${lab.address('master3').replaceAll('.', '-')}.pem | cut -d' ' -f1`)))
  t.equal(new Set(sameOnAll).size, 1, 'every holder has the same new certificate')
  t.match(await lab.etcdctl('master3', ['endpoint', 'health', '-w', 'json']), /"health":true/)
  t.comment(`renewal (plan, killed run, resumed run) took ${((Date.now() - started) / 1000).toFixed(0)} s`)

  const again = await run('renew-etcd-cert.mjs', ['--yes'], args)
  t.equal(again.code, 0, again.stderr)
  t.match(again.stdout, /nothing to do/)
  t.equal(await served(), after, 'a re-run renews nothing')
})

t.test('move the etcd data dir of master3: plan, a run killed while etcd is re-created, a resumed run', async (t) => {
  const args = ['--host', 'master3', '--to', '/data/etcd']
  const binds = () => lab.sh('master3', "docker inspect -f '{{json .HostConfig.Binds}}' etcd")
  const plan = await run('move-etcd-data-dir.mjs', ['--plan'], args)
  t.equal(plan.code, 0, plan.stderr)
  t.match(plan.stdout, /copy \/var\/lib\/etcd to \/data\/etcd/)
  t.match(await binds(), /"\/var\/lib\/etcd:\/var\/lib\/rancher\/etcd\/:z"/, '--plan changed nothing')

  // Killed 1 s into the re-creation (the old container stopped and renamed, maybe the new one created).
  const killed = await run('move-etcd-data-dir.mjs', ['--yes'], args, { killOn: { pattern: /\[2\/2\] Re-create etcd/, delayMs: 1000 } })
  t.equal(killed.signal, 'SIGKILL', 'killed in the middle of the re-creation')

  const resumed = await run('move-etcd-data-dir.mjs', ['--yes'], args)
  t.equal(resumed.code, 0, resumed.stderr)
  t.notMatch(resumed.stderr, /Stop etcd on master3 and copy[^\n]* done/, 'the copy is not redone')
  // A kill that came after the re-creation finished leaves the resumed run nothing to do at all; otherwise it
  // finishes the re-creation and proves the member healthy.
  if (!/nothing to do/.test(resumed.stdout)) t.match(resumed.stderr, /healthy with its data at \/data\/etcd/)
  t.match(await binds(), /"\/data\/etcd:\/var\/lib\/rancher\/etcd\/:z"/, 'etcd runs with its data at the new path')
  const names = await lab.sh('master3', "docker ps -a --format '{{.Names}} {{.State}}'")
  t.match(names, /^etcd running$/m)
  t.match(names, /^etcd-old-\S+ exited$/m, 'the old container is kept')
  // A serializable read is answered by master3 from its own data.
  const v = await lab.etcdctl('master3', ['get', '/registry/e2e-run/key-7', '--print-value-only', '--consistency=s'])
  t.equal(v.trim(), 'value-7', 'the member has its data')
  t.match(await lab.etcdctl('master3', ['endpoint', 'health', '-w', 'json']), /"health":true/)

  const again = await run('move-etcd-data-dir.mjs', ['--yes'], args)
  t.equal(again.code, 0, again.stderr)
  t.match(again.stdout, /nothing to do/)
})

t.test('dr run: a missing file and a file without steps are usage errors', async (t) => {
  const missing = await dr(['run', 'runbooks/examples/nope.mjs', '-i', lab.inventory, '--plan'])
  t.equal(missing.code, 2)
  t.match(missing.stderr, /error\[run\.no-file\]: runbook runbooks\/examples\/nope\.mjs does not exist/)
})
