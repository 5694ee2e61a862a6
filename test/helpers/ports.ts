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
 * Data ports are taken from [10000, 22768) so that they and their +10000 bus twins stay below
 * 32768, where Linux starts handing out ephemeral ports (`ip_local_port_range`, 32768-60999) to
 * outgoing connections: a bus port in that range was once taken by a client socket between the
 * check here and the cluster's start (a red CI run, in the failover test).
 */
const LOWEST = 10_000
const PAST_HIGHEST = 22_768

/**
 * Finds `count` consecutive free ports whose +10000 twins (cluster bus) are free too.
 * @param from port to start looking at; a random start spreads parallel runs apart
 */
export async function findFreePortRange(
  count: number,
  bus = true,
  from = LOWEST + Math.floor(Math.random() * (PAST_HIGHEST - LOWEST - count)),
): Promise<number> {
  const span = PAST_HIGHEST - LOWEST - count
  for (let step = 0; step < span; step += count) {
    const base = LOWEST + ((from - LOWEST + step) % span)
    const ports = Array.from({ length: count }, (_, i) => base + i)
    const wanted = bus ? [...ports, ...ports.map((p) => p + 10000)] : ports
    const free = await Promise.all(wanted.map(portIsFree))
    if (free.every(Boolean)) return base
  }
  throw new Error(`no ${count} free consecutive ports found`)
}
