// What an engine does when `docker run` does not say (a container value equal to it need not be printed), and
// what the docker CLI on the same host can say to it: CLI and engine versions differ (here CLI 28, engine 20.10).
import type { Transport } from '../transport/types.ts'
import { compareVersions, type Engine } from './engine.ts'
import type { EngineDefaults } from './run-command.ts'

export async function engineDefaults(engine: Engine, t?: Transport): Promise<EngineDefaults> {
  const info = await engine.info()
  const defaults: EngineDefaults = {
    hostname: info.Name,
    logDriver: info.LoggingDriver,
    runtime: info.DefaultRuntime,
    // docker 20.10 gives containers a private cgroup namespace on cgroup v2 hosts and the host's on v1.
    cgroupnsMode: info.CgroupVersion === '2' ? 'private' : 'host',
  }
  if (t) {
    // docker CLI 25+ sends --mac-address per network, which engines below API 1.44 refuse.
    const cli = await t.$`docker version --format {{.Client.Version}}`.nothrow()
    const major = Number(cli.stdout.trim().split('.')[0])
    if (cli.stdout.trim() && major >= 25 && compareVersions(engine.apiVersion, '1.44') < 0) defaults.cliMacAddress = false
  }
  return defaults
}
