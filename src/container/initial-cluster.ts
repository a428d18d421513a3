// etcd's --initial-cluster (`name=url,name=url`) and kube-apiserver's --etcd-servers (`url,url`) as structures.
import { DrError } from '../core/error.ts'

export interface ClusterPeer {
  name: string
  url: string
}

/** `etcd-m1=https://10.0.0.1:2380,etcd-m2=https://10.0.0.2:2380` → peers in order (a name may repeat: several URLs). */
export function parseInitialCluster(value: string): ClusterPeer[] {
  if (value.trim() === '') return []
  return value.split(',').map((entry) => {
    const eq = entry.indexOf('=')
    const name = entry.slice(0, eq).trim()
    const url = entry.slice(eq + 1).trim()
    if (eq <= 0 || url === '') {
      throw new DrError({
        code: 'etcd.bad-initial-cluster',
        message: `--initial-cluster entry ${JSON.stringify(entry)} is not name=url`,
        hint: 'the flag is a comma-separated list of name=peer-url (e.g. etcd-m1=https://10.0.0.1:2380)',
        exit: 'usage',
      })
    }
    checkUrl(url, '--initial-cluster')
    return { name, url }
  })
}

export const formatInitialCluster = (peers: readonly ClusterPeer[]): string => peers.map((p) => `${p.name}=${p.url}`).join(',')

/** The peers with one name only (e.g. a survivor's own entry for --force-new-cluster). */
export const onlyMember = (peers: readonly ClusterPeer[], name: string): ClusterPeer[] => peers.filter((p) => p.name === name)

export interface EtcdServer {
  url: string
  host: string
  port: number
}

/** `https://10.0.0.1:2379,https://10.0.0.2:2379` → servers in order. */
export function parseEtcdServers(value: string): EtcdServer[] {
  if (value.trim() === '') return []
  return value.split(',').map((raw) => {
    const url = raw.trim()
    const u = checkUrl(url, '--etcd-servers')
    return { url, host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)) }
  })
}

export const formatEtcdServers = (servers: ReadonlyArray<EtcdServer | string>): string => servers.map((s) => (typeof s === 'string' ? s : s.url)).join(',')

function checkUrl(url: string, flag: string): URL {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new DrError({ code: 'etcd.bad-url', message: `${flag} has ${JSON.stringify(url)}, which is not a URL`, hint: 'URLs look like https://10.0.0.1:2379', exit: 'usage' })
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:' && u.protocol !== 'unix:' && u.protocol !== 'unixs:') {
    throw new DrError({ code: 'etcd.bad-url', message: `${flag} has ${JSON.stringify(url)} with scheme ${u.protocol}`, hint: 'use http:// or https://', exit: 'usage' })
  }
  return u
}
