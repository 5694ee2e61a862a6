/**
 * Free loopback ports for the servers the tests start (a cluster needs each port and port+10000).
 */
import { createServer } from 'node:net'

/** Resolves whether `port` can be bound on 127.0.0.1 right now. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/**
 * Where ports come from, and why there:
 * - Data ports are taken from [10000, 20000), so their +10000 bus twins fall in [20000, 30000):
 *   no server's data port can ever be another cluster's bus port. (Both once shared one range:
 *   a standalone Redis in one test file took the bus port of the launcher test's cluster while
 *   that cluster was stopped between two tests, and its restart failed: a red CI run.)
 * - All of it stays below 32768, where Linux starts handing out ephemeral ports
 *   (`ip_local_port_range`, 32768-60999) to outgoing connections: a bus port in that range was
 *   once taken by a client socket between the check here and the cluster's start.
 * - Each vitest worker (`VITEST_POOL_ID`, 1 to maxWorkers; the global setup has none) looks in
 *   a slice of its own, so a file that stops its servers between tests cannot lose their ports
 *   to a file running beside it in the other worker.
 */
const LOWEST = 10_000
const PAST_HIGHEST = 20_000
const SLICES = 4
const SLICE = Math.floor((PAST_HIGHEST - LOWEST) / SLICES)

/**
 * Finds `count` consecutive free ports (in this worker's slice) whose +10000 twins (cluster
 * bus) are free too.
 * @param bus whether the +10000 twins must be free as well (a cluster's nodes)
 */
export async function findFreePortRange(count: number, bus = true): Promise<number> {
  const slice = Number(process.env.VITEST_POOL_ID ?? 0) % SLICES
  const lowest = LOWEST + slice * SLICE
  const span = SLICE - count
  // A random start spreads parallel runs of the suite on one machine apart.
  const from = Math.floor(Math.random() * span)
  for (let step = 0; step < span; step += count) {
    const base = lowest + ((from + step) % span)
    const ports = Array.from({ length: count }, (_, i) => base + i)
    const wanted = bus ? [...ports, ...ports.map((p) => p + 10000)] : ports
    const free = await Promise.all(wanted.map(portIsFree))
    if (free.every(Boolean)) return base
  }
  throw new Error(`no ${count} free consecutive ports found in ${lowest}-${lowest + SLICE - 1}`)
}
