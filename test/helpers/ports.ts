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
 * Finds `count` consecutive free ports whose +10000 twins (cluster bus) are free too.
 * @param from lowest port to try; a random start spreads parallel runs apart
 */
export async function findFreePortRange(
  count: number,
  bus = true,
  from = 20000 + Math.floor(Math.random() * 9000),
): Promise<number> {
  for (let base = from; base < 30000 - count; base += count) {
    const ports = Array.from({ length: count }, (_, i) => base + i)
    const wanted = bus ? [...ports, ...ports.map((p) => p + 10000)] : ports
    const free = await Promise.all(wanted.map(portIsFree))
    if (free.every(Boolean)) return base
  }
  throw new Error(`no ${count} free consecutive ports found`)
}
