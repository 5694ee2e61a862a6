/**
 * The upstream's state in the proxy's log: when it becomes unreachable and when it is connected
 * again. Without it, a proxy started before its Redis (or whose Redis went away) logged
 * "listening" and then nothing but the 503s of the requests it could not serve, each a line of its
 * own: the cause was in every one and in none at the start.
 *
 * ioredis reports a failed attempt on every retry (every 100 ms to 1 s), so only changes are
 * logged: the first error after a connection (or at the start), and each `ready`. A cluster
 * node that fails while the cluster as a whole stays up (a master killed, its replica promoted) is
 * logged at most once a minute per node: ioredis drops and takes in such a node again on each
 * refresh of the slots, so "until it is back" cannot be told from its events (20 lines for one
 * killed master when it was tried).
 */
import type { Logger } from 'pino'
import type { Upstream } from './upstream.js'

/** How often one failing cluster node is logged at most. */
const NODE_WARNING_EVERY_MS = 60_000

/**
 * Logs the upstream's connection changes (warn when lost, info when connected).
 * @param now the clock for spacing a node's warnings
 */
export function logUpstreamState(upstream: Upstream, logger: Logger, now: () => number = Date.now): void {
  let connected = false
  let down = false
  /** When each failing node was last logged. */
  const nodeWarned = new Map<string, number>()
  const client = upstream.client
  client.on('ready', () => {
    // "again" after any earlier connection: a reconnect that needed no retry has no error to log.
    logger.info({ mode: upstream.mode }, connected ? 'upstream connected again' : 'upstream connected')
    connected = true
    down = false
    nodeWarned.clear()
  })
  client.on('error', () => {
    if (down) return
    down = true
    logger.warn(
      { mode: upstream.mode, error: upstream.lastError() },
      'upstream unreachable: requests are answered 503 until it is back',
    )
  })
  client.on('node error', (error: Error, address: string) => {
    // Before the first connection (or while all of it is down) the client's own error says it all.
    if (!connected || down) return
    const at = now()
    if (at - (nodeWarned.get(address) ?? -Infinity) < NODE_WARNING_EVERY_MS) return
    nodeWarned.set(address, at)
    logger.warn({ mode: upstream.mode, node: address, error: error.message }, 'upstream node unreachable')
  })
}
