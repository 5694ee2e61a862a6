/**
 * A cluster of a test file's own, for tests that kill nodes, move slots or fire random commands:
 * the suite's shared cluster is never disturbed. Registers beforeAll/afterAll hooks.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import { type ClusterStatus, startCluster, stopCluster } from '../../src/cluster/launcher.js'
import type { ProxyOptions, RunningProxy } from '../../src/proxy/proxy.js'
import { findFreePortRange } from './ports.js'
import { startTestProxy } from './proxy.js'

/** What the hooks fill in; read it inside tests, not at collection time. */
export interface OwnCluster {
  options: { basePort: number; dir: string }
  status: ClusterStatus
  proxy: RunningProxy
}

/**
 * Starts a 3+3 cluster and a proxy in front of it before the file's tests, and removes both after.
 * @param name names the temporary directory
 * @param proxyOptions extra proxy options (limits, deadlines)
 */
export function useOwnCluster(name: string, proxyOptions: Partial<ProxyOptions> = {}): OwnCluster {
  const own = {} as OwnCluster
  const dir = mkdtempSync(join(tmpdir(), `tiercache-${name}-`))
  beforeAll(async () => {
    own.options = { basePort: await findFreePortRange(6), dir }
    own.status = await startCluster(own.options)
    own.proxy = await startTestProxy({ redis: `redis://127.0.0.1:${own.options.basePort}`, ...proxyOptions })
  })
  afterAll(async () => {
    await own.proxy?.close('1s')
    if (own.options) await stopCluster({ ...own.options, clean: true })
    rmSync(dir, { recursive: true, force: true })
  })
  return own
}

/** The master that serves `slot` in a cluster's last known layout. */
export function ownerOf(status: ClusterStatus, slot: number): ClusterStatus['nodes'][number] {
  return status.nodes.find((n) => n.role === 'master' && n.slots.some(([a, b]) => slot >= a && slot <= b))!
}

/** The replica of the master on `port` in a cluster's last known layout. */
export function replicaOf(status: ClusterStatus, port: number): ClusterStatus['nodes'][number] {
  return status.nodes.find((n) => n.role === 'replica' && n.masterPort === port)!
}
