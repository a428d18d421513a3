// A site's own pre-flight, run before any change to the cluster: every etcd host has enough free disk where etcd
// keeps its data, and every host's clock agrees with this machine's. It changes nothing: both steps are probes
// (no apply), so whatever their checks find stops the run with exit 5 and one line per problem.
//
//   dr run runbooks/examples/preflight.mjs --plan
//   dr run runbooks/examples/preflight.mjs --plan -- --min-free 20 --max-skew 1 --path /var/lib/etcd
//   dr run runbooks/examples/preflight.mjs --plan && dr failover --site B --plan   # in a script

export const title = 'Site pre-flight: free disk on the etcd hosts, clock skew'

export function assess({ args, inv, error }) {
  const minFree = Number(args.minFree ?? 10)
  const maxSkew = Number(args.maxSkew ?? 2)
  for (const [flag, v] of [['--min-free', minFree], ['--max-skew', maxSkew]]) {
    if (!Number.isFinite(v) || v <= 0) throw error({ code: 'bad-argument', message: `${flag} must be a positive number`, hint: 'e.g. -- --min-free 15 --max-skew 1', exit: 'usage' })
  }
  return { minFree, maxSkew, path: String(args.path ?? inv.etcd.dataDir) }
}

export function describe({ facts }) {
  return [`fails when an etcd host has less than ${facts.minFree}% free on the filesystem of ${facts.path}, or a clock is more than ${facts.maxSkew} s off`]
}

/** `df -P` → the free percentage of the filesystem holding the path (POSIX output: the 5th column is Use%). */
const freePercent = (dfOutput) => 100 - Number(dfOutput.trim().split('\n').pop().split(/\s+/)[4].replace('%', ''))

export default function steps({ on, hostsWithRole, inv, facts }) {
  const etcdHosts = hostsWithRole('etcd')
  const allHosts = Object.keys(inv.hosts)
  return [
    {
      id: 'free-disk',
      title: `Check free disk under ${facts.path} on every etcd host`,
      async check() {
        const results = await on(etcdHosts)`df -P ${facts.path}`.nothrow()
        return results.flatMap((r) => {
          if (!r.ok) return [`${r.host}: cannot read free space of ${facts.path}: ${r.stderr.trim()}`]
          const free = freePercent(r.stdout)
          return free < facts.minFree ? [`${r.host}: ${free}% free on the filesystem of ${facts.path} (needs ${facts.minFree}%)`] : []
        })
      },
    },
    {
      id: 'clock-skew',
      title: 'Check that every host’s clock agrees with this machine’s',
      async check() {
        const problems = []
        // Sequential on purpose: each reading is bracketed by this machine's clock, so the round trip is known.
        for (const host of allHosts) {
          const before = Date.now()
          const remote = Number(await on(host)`date +%s.%N`.text()) * 1000
          const after = Date.now()
          const skew = Math.abs(remote - (before + after) / 2) / 1000
          const slack = (after - before) / 2000
          if (skew - slack > facts.maxSkew) problems.push(`${host}: clock is ${skew.toFixed(1)} s off (allowed ${facts.maxSkew} s)`)
        }
        return problems
      },
    },
  ]
}
