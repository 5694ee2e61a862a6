/**
 * What several benchmarks stand on: a 3+3 Redis Cluster on free loopback ports in a temporary
 * directory, and the tiercache proxy in front of it (in this process), both removed by `stop()`.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startCluster, stopCluster } from '../../src/cluster/launcher.js'
import { type RunningProxy, startProxy } from '../../src/proxy/proxy.js'
import { findFreePortRange } from '../../test/helpers/ports.js'

/** The running pair. */
export interface BenchCluster {
  /** The cluster's first port (its seed). */
  basePort: number
  proxy: RunningProxy
  /** The token the proxy accepts. */
  token: string
  /** Stops the proxy and the cluster and removes the directory. */
  stop(): Promise<void>
}

/** Starts a cluster and a proxy in front of it; `name` names the temporary directory. */
export async function startBenchCluster(name: string): Promise<BenchCluster> {
  const dir = mkdtempSync(join(tmpdir(), `tiercache-${name}-`))
  const options = { basePort: await findFreePortRange(6), dir }
  await startCluster(options)
  const token = 'bench-token'
  const proxy = await startProxy({
    port: 0,
    redis: `redis://127.0.0.1:${options.basePort}`,
    tokens: [{ token }],
    logger: 'silent',
  })
  return {
    basePort: options.basePort,
    proxy,
    token,
    stop: async () => {
      await proxy.close('1s')
      await stopCluster({ ...options, clean: true })
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
