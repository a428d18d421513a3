// Move the etcd data dir of one member to another path on its host (a new disk, say): stop the member, copy its
// data (through a temporary name, so a copy cut short is never mistaken for a whole one), re-create the etcd
// container with its data volume pointing at the new path (exactly, with dr's re-creation: the old container is
// kept as etcd-old-<time> and comes back if the new one does not stay up), and prove the member is back, healthy,
// with its data. The old data dir is left where it was; remove it yourself once you are happy.
//
//   dr run runbooks/examples/move-etcd-data-dir.mjs --plan -- --host master3 --to /data/etcd
//   dr run runbooks/examples/move-etcd-data-dir.mjs --yes  -- --host master3 --to /data/etcd
//
// One member at a time: the others keep quorum while it is stopped. Afterwards, dr's own runbooks still look for
// the data under etcd.dataDir of the inventory: update it if every member moves.
import path from 'node:path'

export const title = 'Move the etcd data dir of one member'

export async function assess({ args, inv, error, hostsWithRole, inspect }) {
  const host = args.host && String(args.host)
  const to = args.to && String(args.to)
  if (!host || !to) throw error({ code: 'bad-argument', message: '--host and --to are required', hint: 'usage: -- --host master3 --to /data/etcd', exit: 'usage' })
  if (!inv.hosts[host]?.roles.includes('etcd')) throw error({ code: 'bad-argument', message: `${host} is not an etcd host`, hint: `etcd hosts: ${hostsWithRole('etcd').join(', ')}`, exit: 'usage' })
  if (!path.isAbsolute(to) || path.normalize(to) === '/') throw error({ code: 'bad-argument', message: `--to ${to} must be an absolute path other than /`, exit: 'usage' })
  const members = hostsWithRole('etcd').length
  if (members < 3) throw error({ code: 'no-quorum-margin', message: `only ${members} etcd member(s): stopping one loses quorum`, exit: 'refused' })
  const name = inv.etcd.container
  const c = await inspect(host, name)
  return { host, to: path.normalize(to).replace(/\/$/, ''), name, from: c ? dataBind(c)?.source : undefined }
}

export function describe({ facts }) {
  return [`etcd on ${facts.host}: data ${facts.from ?? '(container being re-created)'} → ${facts.to}`]
}

/** The bind mount that holds etcd's --data-dir: { source, target, bind } or undefined. */
function dataBind(c) {
  const words = [...(c.Config.Entrypoint ?? []), ...(c.Config.Cmd ?? []), ...(c.Args ?? [])]
  const flag = words.find((w) => w.startsWith('--data-dir='))
  const dataDir = (flag ? flag.slice('--data-dir='.length) : '/var/lib/etcd').replace(/\/$/, '')
  for (const bind of c.HostConfig.Binds ?? []) {
    const [source, target] = bind.split(':')
    const t = target.replace(/\/$/, '')
    if (dataDir === t || dataDir.startsWith(t + '/')) return { source: source.replace(/\/$/, ''), target, bind }
  }
  return undefined
}

export default function steps(ctx) {
  const { host, to, name } = ctx.facts
  const at = ctx.on(host)
  const partial = `${to}.dr-partial`
  const moved = (c) => c && dataBind(c)?.source === to
  return [
    {
      id: 'copy-data',
      title: `Stop etcd on ${host} and copy its data to ${to}`,
      host,
      destructive: true,
      async check() {
        const c = await ctx.inspect(host, name)
        if (moved(c)) return []
        const copied = (await at`test -d ${`${to}/member`}`.nothrow()).exitCode === 0
        // A copy is only good while etcd stays stopped: a member that ran again since has newer data.
        if (copied && !c?.State?.Running) return []
        if (!c) throw ctx.error({ code: 'no-container', message: `there is no ${name} container on ${host} and no copy at ${to}`, host, hint: 'docker ps -a on the host: bring etcd back before moving it' })
        const from = dataBind(c)?.source
        if (!from) throw ctx.error({ code: 'no-data-volume', message: `cannot find the bind mount of etcd's data dir in ${name} on ${host}`, host })
        return [`stop ${name} (restart policy off)`, `copy ${from} to ${to} (cp -a through ${partial}; ${from} is kept)`]
      },
      async apply() {
        const c = await ctx.inspect(host, name)
        const from = dataBind(c).source
        await ctx.closeEtcd(host)
        await at`docker update --restart=no ${name} >/dev/null && docker stop ${name} >/dev/null`
        // On disk before etcd runs from it: a copy left in the page cache is a corrupt database after a power cut.
        await at`rm -rf ${partial} ${to} && mkdir -p ${path.dirname(to)} && cp -a ${from} ${partial} && { find ${partial} -exec sync -- {} + 2>/dev/null || sync; } && mv ${partial} ${to} && { sync -- ${path.dirname(to)} 2>/dev/null || sync; }`
      },
      async verify() {
        const c = await ctx.inspect(host, name)
        const from = dataBind(c)?.source
        const [a, b] = await Promise.all([from, to].map((d) => at`du -sb ${`${d}/member`} | cut -f1`.text()))
        if (a !== b) throw ctx.error({ code: 'copy-differs', message: `${from}/member holds ${a} bytes, the copy at ${to}/member ${b}`, host, exit: 'unverified' })
        return `${b} bytes copied`
      },
    },
    {
      id: 'recreate-etcd',
      title: `Re-create etcd on ${host} with its data at ${to}`,
      host,
      destructive: true,
      async check() {
        const c = await ctx.inspect(host, name)
        if (moved(c) && c.State?.Running) return []
        return `re-create ${name} with its data volume at ${to} and restart policy always; the old container is kept as ${name}-old-<time>`
      },
      async apply() {
        await ctx.recreate(host, name, {
          // The bind that holds --data-dir gets the new source; every other bind stays as it was.
          binds: (binds, old) => binds.map((b) => (b === dataBind(old)?.bind ? [to, ...b.split(':').slice(1)].join(':') : b)),
          restartPolicy: { Name: 'always' },
        })
      },
      async verify() {
        const c = await ctx.inspect(host, name)
        if (!moved(c) || !c.State?.Running) throw ctx.error({ code: 'not-moved', message: `${name} on ${host} does not run with its data at ${to}`, host, exit: 'unverified' })
        const deadline = Date.now() + 60_000
        let last = ''
        while (Date.now() < deadline) {
          try {
            const m = await ctx.etcd(host)
            const s = await m.client.maintenance.status()
            const keys = await m.client.getAll().prefix('/').serializable(true).count()
            const { members } = await m.client.cluster.memberList({})
            const me = members.find((x) => x.ID === s.header.member_id)
            if (me && keys > 0) return `member ${me.name} (${me.ID}) healthy with its data at ${to}: ${keys} keys, revision ${s.header.revision}`
            last = me ? 'no keys' : 'not in the member list'
          } catch (e) {
            last = e.message
            await ctx.closeEtcd(host)
          }
          await new Promise((r) => setTimeout(r, 1000))
        }
        throw ctx.error({ code: 'member-unhealthy', message: `etcd on ${host} is not healthy with its data at ${to} after 60 s: ${last}`, host, hint: `docker logs --tail 50 ${name} on ${host}`, exit: 'unverified' })
      },
    },
  ]
}

