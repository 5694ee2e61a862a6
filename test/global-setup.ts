/**
 * Starts one real Redis Cluster (3 masters + 3 replicas) on free loopback ports for the whole
 * suite, and stops it at the end. Tests that kill nodes start clusters of their own.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { startCluster, stopCluster } from '../src/cluster/launcher.js'
import { findFreePortRange } from './helpers/ports.js'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Seed URL of the suite's cluster, e.g. `redis://127.0.0.1:21000`. */
    clusterUrl: string
    /** Client ports of the suite's cluster nodes. */
    clusterPorts: number[]
  }
}

export default async function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), 'tiercache-cluster-'))
  const basePort = await findFreePortRange(6)
  const options = { basePort, dir, timeout: '60s' as const }
  // A start that fails half-way (a timeout, a launcher bug) returns no teardown: stop what it
  // started here, or its nodes outlive the run.
  const status = await startCluster(options).catch(async (error: unknown) => {
    await stopCluster({ ...options, clean: true })
    rmSync(dir, { recursive: true, force: true })
    throw error
  })
  project.provide('clusterUrl', `redis://127.0.0.1:${basePort}`)
  project.provide(
    'clusterPorts',
    status.nodes.map((n) => n.port),
  )
  return async () => {
    await stopCluster({ ...options, clean: true })
    rmSync(dir, { recursive: true, force: true })
  }
}
