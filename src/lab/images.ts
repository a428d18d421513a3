// The lab's images, built here with no registry and cached by content:
//   dr-lab/node:<hash>        a Debian rootfs (debootstrap minbase + sshd, docker, etcd, nodejs) made into a
//                             node by `docker import`; the rootfs tarball stays in .lab-cache/ for fast rebuilds;
//   dr-lab/hyperkube:<hash>   one small image for the nodes' inner docker (etcd, etcdctl, node and the lab's
//   dr-lab/coreos-etcd:<hash> test fixtures), tagged twice like RKE's two images, saved to .lab-cache/ once and
//                             `docker load`ed into every node.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { projectRoot } from '../core/paths.ts'
import { DrError, relevantLines } from '../core/error.ts'
import type { Output } from '../core/output.ts'
import { runLocal } from '../transport/local.ts'
import { docker, dockerPipe } from './docker.ts'

export const NODE_PACKAGES = [
  'openssh-server', 'docker.io', 'iptables', 'iproute2', 'procps', 'etcd-server', 'etcd-client', 'nodejs',
  'ca-certificates', 'curl', 'sudo',
]
export const SUITE = 'bookworm'
export const CACHE_DIR = path.join(projectRoot, '.lab-cache')
const FILES = path.join(path.dirname(new URL(import.meta.url).pathname), 'node-files')
const FIXTURES = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixture')
// Two `lab up`s of different labs may build at once: each writes its own temporary files, renamed into place.
const TMP = `.tmp-${process.pid}`
const IMAGE_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

export interface LabImages {
  node: string
  etcd: string
  hyperkube: string
  /** `docker save` of the inner images, for `docker load` in each node. */
  innerTar: string
}

/** The Debian archive this machine's apt uses (deb822 `URIs:` or one-line `deb URI suite`), not security. */
export function debianMirror(sources: string): string {
  for (const m of sources.matchAll(/^URIs:\s*(\S+)/gm)) if (/\/debian\/?$/.test(m[1])) return m[1]
  for (const m of sources.matchAll(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/gm)) if (/\/debian\/?$/.test(m[1])) return m[1]
  return 'http://deb.debian.org/debian'
}

function readAptSources(): string {
  const files = ['/etc/apt/sources.list']
  try {
    for (const f of fs.readdirSync('/etc/apt/sources.list.d')) files.push(path.join('/etc/apt/sources.list.d', f))
  } catch {}
  return files.map((f) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '')).join('\n')
}

export function contentHash(parts: Array<string | Buffer>): string {
  const h = createHash('sha256')
  for (const p of parts) h.update(createHash('sha256').update(p).digest())
  return h.digest('hex').slice(0, 16)
}

const nodeFileNames = ['dr-lab-node-init', 'sshd_config']
const innerFileNames = ['collect-inner.sh', 'entrypoint.sh', 'kube-apiserver', 'kubelet']
const fixtureNames = () => fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.mjs')).sort()
// The static-pod agent (kubeadm flavor) reads manifests with the same YAML parser dr uses: the `yaml` package's
// dependency-free ESM build, copied beside the fixtures.
const YAML_DIST = path.join(projectRoot, 'node_modules', 'yaml', 'browser', 'dist')
const yamlVersion = () => (JSON.parse(fs.readFileSync(path.join(projectRoot, 'node_modules', 'yaml', 'package.json'), 'utf8')) as { version: string }).version

export function nodeImageHash(mirror: string): string {
  return contentHash([SUITE, mirror, NODE_PACKAGES.join(','), ...nodeFileNames.map((f) => fs.readFileSync(path.join(FILES, f)))])
}

export function innerImageHash(nodeHash: string): string {
  return contentHash([
    nodeHash,
    ...innerFileNames.map((f) => fs.readFileSync(path.join(FILES, f))),
    ...fixtureNames().flatMap((f) => [f, fs.readFileSync(path.join(FIXTURES, f))]),
    `yaml@${yamlVersion()}`,
  ])
}

const imageExists = async (ref: string) => (await docker(['image', 'inspect', '--format', '{{.Id}}', ref], { nothrow: true })).ok

/** Make sure every lab image exists; build what is missing. */
export async function ensureImages(out: Output): Promise<LabImages> {
  await fsp.mkdir(CACHE_DIR, { recursive: true })
  const mirror = debianMirror(readAptSources())
  const nodeHash = nodeImageHash(mirror)
  const node = `dr-lab/node:${nodeHash}`
  if (!(await imageExists(node))) await buildNodeImage(node, nodeHash, mirror, out)
  const innerHash = innerImageHash(nodeHash)
  const images: LabImages = {
    node,
    etcd: `dr-lab/coreos-etcd:v3.4.23-${innerHash}`,
    hyperkube: `dr-lab/hyperkube:v1.20.5-${innerHash}`,
    innerTar: path.join(CACHE_DIR, `inner-${innerHash}.tar`),
  }
  if (!(await imageExists(images.hyperkube)) || !(await imageExists(images.etcd))) await buildInnerImage(images, out)
  if (!fs.existsSync(images.innerTar)) {
    await saveInnerTar(images, out)
    await dropStale(images, nodeHash)
  }
  return images
}

/**
 * `docker save` of the inner images into the cache. Also called when the tar vanished between ensureImages and
 * loading (another checkout's `lab up` on the same cache dropped it as stale).
 */
export async function saveInnerTar(images: LabImages, out: Output): Promise<void> {
  out.progress(`saving the inner images to ${path.relative(projectRoot, images.innerTar)}`)
  await docker(['save', '-o', images.innerTar + TMP, images.etcd, images.hyperkube], { doing: 'save the inner images' })
  await fsp.rename(images.innerTar + TMP, images.innerTar)
}
// Another checkout of dr on the same engine (another branch, another version) may use other images and cache
// files right now: only what has not been built or touched for a day counts as stale.
const STALE_AFTER_MS = 24 * 3600_000

/** Older builds' inner images and cache files (an image a running lab still uses stays: rmi refuses it). */
async function dropStale(images: LabImages, nodeHash: string) {
  const keep = new Set([images.node, images.etcd, images.hyperkube])
  const created = await docker(['images', '--format', '{{.Repository}}:{{.Tag}} {{.CreatedAt}}'])
  const stale = created.stdout
    .split('\n')
    .map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1).replace(/ [A-Z]+$/, '')])
    .filter(([ref, at]) => ref.startsWith('dr-lab/') && !keep.has(ref) && !ref.startsWith('dr-lab/node:') && Date.now() - Date.parse(at) > STALE_AFTER_MS)
    .map(([ref]) => ref)
  if (stale.length) await docker(['rmi', ...stale], { nothrow: true })
  for (const f of await fsp.readdir(CACHE_DIR)) {
    const file = path.join(CACHE_DIR, f)
    const old = !f.includes('.tmp-') && ((f.startsWith('inner-') && file !== images.innerTar) || (f.startsWith('node-rootfs-') && !f.includes(nodeHash)))
    if (old && Date.now() - (await fsp.stat(file)).mtimeMs > STALE_AFTER_MS) await fsp.rm(file, { force: true })
  }
}

async function buildNodeImage(ref: string, hash: string, mirror: string, out: Output) {
  const tarball = path.join(CACHE_DIR, `node-rootfs-${hash}.tar`)
  if (!fs.existsSync(tarball)) {
    const root = path.join(CACHE_DIR, `build-${hash}${TMP}`)
    await fsp.rm(root, { recursive: true, force: true })
    const debs = path.join(CACHE_DIR, 'debs')
    await fsp.mkdir(debs, { recursive: true })
    out.progress(`building the node image: debootstrap ${SUITE} from ${mirror} (about a minute; packages cached in .lab-cache/debs)`)
    const started = Date.now()
    const r = await runLocal(
      ['debootstrap', '--variant=minbase', `--include=${NODE_PACKAGES.join(',')}`, `--cache-dir=${debs}`, SUITE, root, mirror],
      { timeoutMs: 1_800_000 },
    )
    if (!r.ok) {
      throw new DrError({
        code: 'lab.debootstrap-failed',
        message: `debootstrap of ${SUITE} failed`,
        doing: 'build the lab node image',
        command: r.command,
        exitStatus: r.exitCode,
        stderr: relevantLines(r.stderr + r.stdout + readDebootstrapLog(root)),
        hint: `check that ${mirror} is reachable (it is the archive /etc/apt/sources.list* names), then run \`dr lab up\` again`,
      })
    }
    out.progress(`debootstrap done in ${Math.round((Date.now() - started) / 1000)} s; trimming and packing the rootfs`)
    await customiseRootfs(root)
    const packed = await runLocal(['tar', '-C', root, '--numeric-owner', '-cf', tarball + TMP, '.'], { timeoutMs: 600_000 })
    if (!packed.ok) throw new DrError({ code: 'lab.image-failed', message: 'could not pack the node rootfs', stderr: relevantLines(packed.stderr) })
    await fsp.rename(tarball + TMP, tarball)
    await fsp.rm(root, { recursive: true, force: true })
  }
  out.progress(`importing ${ref} from ${path.relative(projectRoot, tarball)}`)
  await docker(
    ['import', '--change', 'CMD ["/usr/local/sbin/dr-lab-node-init"]', '--change', `ENV ${IMAGE_PATH}`,
      '--change', 'LABEL dr.lab.image=node', tarball, ref],
    { doing: 'import the node image', timeoutMs: 600_000 },
  )
}

function readDebootstrapLog(root: string): string {
  try {
    return fs.readFileSync(path.join(root, 'debootstrap/debootstrap.log'), 'utf8').split('\n').slice(-30).join('\n')
  } catch {
    return ''
  }
}

/** Drop what a node never needs (docs, debs, apt lists) and the host keys every node would otherwise share. */
async function customiseRootfs(root: string) {
  for (const dir of ['var/cache/apt/archives', 'usr/share/doc', 'usr/share/man', 'usr/share/locale', 'var/lib/apt/lists']) {
    const full = path.join(root, dir)
    for (const e of await fsp.readdir(full).catch(() => [] as string[])) {
      if (e === 'partial' || e === 'lock') continue
      await fsp.rm(path.join(full, e), { recursive: true, force: true })
    }
  }
  for (const f of await fsp.readdir(path.join(root, 'etc/ssh'))) {
    if (f.startsWith('ssh_host_')) await fsp.rm(path.join(root, 'etc/ssh', f))
  }
  await fsp.mkdir(path.join(root, 'usr/local/sbin'), { recursive: true })
  await fsp.copyFile(path.join(FILES, 'dr-lab-node-init'), path.join(root, 'usr/local/sbin/dr-lab-node-init'))
  await fsp.chmod(path.join(root, 'usr/local/sbin/dr-lab-node-init'), 0o755)
  await fsp.copyFile(path.join(FILES, 'sshd_config'), path.join(root, 'etc/ssh/sshd_config.d/dr-lab.conf'))
}

async function buildInnerImage(images: LabImages, out: Output) {
  out.progress(`building the inner image ${images.hyperkube} (etcd, node and the lab's test fixtures)`)
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dr-lab-inner-'))
  try {
    for (const f of innerFileNames) await fsp.copyFile(path.join(FILES, f), path.join(dir, f))
    for (const f of fixtureNames()) await fsp.copyFile(path.join(FIXTURES, f), path.join(dir, f))
    await fsp.cp(YAML_DIST, path.join(dir, 'yaml'), { recursive: true })
    await fsp.writeFile(path.join(dir, 'yaml', 'package.json'), '{ "type": "module" }\n')
    await runLocal(['chmod', '-R', 'a+rX', dir])
    await fsp.chmod(dir, 0o755)
    await dockerPipe(
      ['run', '--rm', '--network=none', '--label', 'dr.lab.build=inner', '-v', `${dir}:/in:ro`, images.node, 'sh', '/in/collect-inner.sh'],
      ['import', '--change', `ENV ${IMAGE_PATH}`, '--change', 'LABEL dr.lab.image=inner', '-', images.hyperkube],
      'build the inner image',
    )
    await docker(['tag', images.hyperkube, images.etcd])
  } finally {
    await fsp.rm(dir, { recursive: true, force: true })
  }
}

/** Every dr-lab image on this engine (for the cold-start benchmark and cleanup). */
export async function labImageRefs(): Promise<string[]> {
  const r = await docker(['images', '--format', '{{.Repository}}:{{.Tag}}'])
  return r.stdout.split('\n').filter((l) => l.startsWith('dr-lab/'))
}
