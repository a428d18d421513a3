// Tiny local images for the container tests. There is no registry here: a rootfs with busybox-static and a few
// scripts is imported with `docker import --change …`, so each image has its own config (entrypoint, cmd, env,
// labels, workdir, volumes) for containers to inherit from. Built once per content hash.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { runLocal } from '../../src/transport/local.ts'
import { quote } from '../../src/transport/shell.ts'

export const TEST_LABEL = 'dr.test=1'
export const PREFIX = 'drtest-'

// A PID 1 that stays up, stops at once on SIGTERM, and fails on purpose when given --fail-now (for rollback tests).
const FOREVER = `#!/bin/sh
for a in "$@"; do [ "$a" = --fail-now ] && { echo "failing on purpose: $*" >&2; exit 3; }; done
echo "started: $0 $*"
trap 'exit 0' TERM INT
while :; do sleep 1 & wait $!; done
`

/** Image tag → Dockerfile-style changes. Every image carries the dr.test=1 label. */
export const IMAGES: Record<string, string[]> = {
  // Plain: a cmd, env, labels, a workdir and an exposed port to inherit.
  'drtest-img:base': [
    'CMD ["/bin/forever","--image-cmd"]',
    'ENV IMG_ENV=from-image PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'LABEL dr.test=1 img.label=image-value',
    'WORKDIR /srv',
    'EXPOSE 9000/tcp',
  ],
  // An entrypoint with several elements and a cmd, and an image volume.
  'drtest-img:entry': [
    'ENTRYPOINT ["/bin/forever","--from-entrypoint"]',
    'CMD ["--image-cmd"]',
    'ENV IMG_ENV=from-image PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'LABEL dr.test=1',
    'VOLUME /imgvol',
    'USER 0',
  ],
  // Like RKE's images: no entrypoint, no cmd; the container carries the whole command.
  'drtest-img:bare': ['ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'LABEL dr.test=1'],
}

async function sh(cmd: string, input?: Buffer) {
  const r = await runLocal(cmd, { input })
  if (!r.ok) throw new Error(`${cmd}: exit ${r.exitCode}: ${r.stderr}`)
  return r.stdout.trim()
}

function buildRootfs(dir: string) {
  const bin = path.join(dir, 'bin')
  fs.mkdirSync(bin, { recursive: true })
  for (const d of ['usr/local/bin', 'srv', 'tmp', 'etc', 'proc', 'sys', 'dev', 'imgvol']) fs.mkdirSync(path.join(dir, d), { recursive: true })
  fs.copyFileSync('/bin/busybox', path.join(bin, 'busybox'))
  fs.chmodSync(path.join(bin, 'busybox'), 0o755)
  fs.writeFileSync(path.join(bin, 'forever'), FOREVER, { mode: 0o755 })
  // RKE-shaped binaries: the flags are only printed.
  for (const name of ['etcd', 'kube-apiserver']) fs.writeFileSync(path.join(dir, 'usr/local/bin', name), FOREVER, { mode: 0o755 })
  fs.writeFileSync(path.join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n')
  fs.writeFileSync(path.join(dir, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n')
}

let built: Promise<void> | undefined

/** Build the test images (idempotent; cached by the hash of their content). */
export function ensureTestImages(): Promise<void> {
  built ??= (async () => {
    const busybox = fs.readFileSync('/bin/busybox')
    const hash = createHash('sha256').update(busybox).update(FOREVER).update(JSON.stringify(IMAGES)).digest('hex').slice(0, 16)
    const have = await runLocal(`docker image inspect --format '{{index .Config.Labels "dr.test.hash"}}' ${Object.keys(IMAGES).join(' ')}`)
    if (have.ok && have.stdout.split('\n').filter(Boolean).every((l) => l === hash)) return
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drtest-rootfs-'))
    try {
      buildRootfs(dir)
      const applets = (await sh('/bin/busybox --list')).split('\n').filter((a) => a && a !== 'busybox')
      for (const a of applets) {
        const link = path.join(dir, 'bin', a)
        if (!fs.existsSync(link)) fs.symlinkSync('busybox', link)
      }
      const tar = path.join(os.tmpdir(), `drtest-rootfs-${hash}.tar`)
      await sh(`tar -C ${dir} -cf ${tar} .`)
      for (const [tag, changes] of Object.entries(IMAGES)) {
        const args = [...changes, `LABEL dr.test.hash=${hash}`].map((c) => `--change ${quote(c)}`)
        await sh(`docker import ${args.join(' ')} ${tar} ${tag}`)
      }
      fs.rmSync(tar, { force: true })
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })()
  return built
}

/** Remove test containers: names starting with the prefix (drtest- or longer) that carry the dr.test=1 label. */
export async function removeTestContainers(prefix = PREFIX): Promise<void> {
  if (!prefix.startsWith(PREFIX)) throw new Error(`test containers are named ${PREFIX}…, not ${prefix}…`)
  const ids = (await sh(`docker ps -aq --filter label=${TEST_LABEL} --filter name=^/${prefix}`)).split('\n').filter(Boolean)
  if (ids.length > 0) await sh(`docker rm -f -v ${ids.join(' ')}`)
}

/** Remove test networks and named volumes (names start with the prefix, label dr.test=1). */
export async function removeTestNetworksAndVolumes(prefix = PREFIX): Promise<void> {
  if (!prefix.startsWith(PREFIX)) throw new Error(`test networks are named ${PREFIX}…, not ${prefix}…`)
  const nets = (await sh(`docker network ls -q --filter label=${TEST_LABEL} --filter name=^${prefix}`)).split('\n').filter(Boolean)
  if (nets.length > 0) await runLocal(`docker network rm ${nets.join(' ')}`)
  const vols = (await sh(`docker volume ls -q --filter label=${TEST_LABEL}`)).split('\n').filter((v) => v.startsWith(prefix))
  if (vols.length > 0) await runLocal(`docker volume rm ${vols.join(' ')}`)
}
