/**
 * The proxy's connections to Redis: one shared ioredis client (Cluster, standalone or
 * Sentinel-managed), whose request-path writes are batched per turn of the event loop
 * (`turn-batching.ts`), plus short-lived dedicated connections for commands that block or
 * subscribe.
 */
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis'
import { InvalidOptionError } from '../errors.js'
import { describeValue } from '../option-names.js'

/** How the proxy reaches Redis. */
export type ProxyMode = 'cluster' | 'standalone' | 'sentinel'

/** Where Redis is, as the command line and environment give it. */
export interface UpstreamOptions {
  /** @default 'cluster' */
  mode?: ProxyMode
  /**
   * `redis://[user:password@]host:port[,host:port...]` (`rediss://` for TLS). For a cluster, the
   * seed nodes; for standalone, the server; for sentinel, only the credentials of the master.
   * @default 'redis://127.0.0.1:7000' (cluster), 'redis://127.0.0.1:6379' (standalone)
   */
  redis?: string
  /** Sentinel addresses `host:port` (sentinel mode). */
  sentinels?: string[]
  /** Name of the master the sentinels watch (sentinel mode). */
  masterName?: string
  /** PEM certificate(s) of the CA that signed Redis's TLS certificate (`rediss://`), when not a public one. */
  tlsCa?: string
}

/** Connections to Redis, whatever the mode. */
export interface Upstream {
  readonly mode: ProxyMode
  /** The shared client every ordinary command goes through. */
  readonly client: Redis | Cluster
  /** The masters, in a stable order (a cluster's by their lowest slot), for fan-out commands. */
  masters(): Redis[]
  /**
   * A new connection of its own (blocking commands, subscriptions). In a cluster it goes to the
   * master serving `key`'s slot, or to `address` (`host:port`), or to any master.
   */
  dedicated(target?: { slot?: number; address?: string }): Redis
  /** Waits until the shared client is connected; false if it is not within `ms`. */
  whenReady(ms: number): Promise<boolean>
  /** The last connection error seen (wrong password, refused, TLS), for 503 messages and /readyz. */
  lastError(): string | undefined
  /** Closes every connection. */
  close(): Promise<void>
}

interface Address {
  host: string
  port: number
}

interface ParsedRedisUrl {
  addresses: Address[]
  username: string | undefined
  password: string | undefined
  tls: boolean
}

/**
 * Parses `redis://user:pass@host:port,host:port` (extra seeds may be bare `host:port`).
 * @throws {InvalidOptionError} naming `--redis` for anything malformed
 */
export function parseRedisUrl(value: string, defaultPort: number): ParsedRedisUrl {
  const pieces = value
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
  if (pieces.length === 0) throw new InvalidOptionError('--redis', 'is empty')
  let username: string | undefined
  let password: string | undefined
  let tls = false
  const addresses = pieces.map((piece, i) => {
    const withScheme = piece.includes('://') ? piece : `redis://${piece}`
    let url: URL
    try {
      url = new URL(withScheme)
    } catch {
      throw new InvalidOptionError(
        '--redis',
        `${JSON.stringify(piece)} is not redis://[user:password@]host:port`,
      )
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
      throw new InvalidOptionError(
        '--redis',
        `unsupported scheme ${url.protocol} (use redis:// or rediss://)`,
      )
    }
    if (i === 0 || url.username || url.password) {
      username = url.username ? decodeURIComponent(url.username) : username
      password = url.password ? decodeURIComponent(url.password) : password
    }
    if (url.protocol === 'rediss:') tls = true
    if (!url.hostname) throw new InvalidOptionError('--redis', `${JSON.stringify(piece)} has no host`)
    return { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port ? Number(url.port) : defaultPort }
  })
  return { addresses, username, password, tls }
}

function parseHostPort(value: string, option: string): Address {
  const colon = value.lastIndexOf(':')
  const port = Number(value.slice(colon + 1))
  if (colon <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidOptionError(option, `${JSON.stringify(value)} is not host:port`)
  }
  return { host: value.slice(0, colon), port }
}

/**
 * Connects to Redis in the given mode. The connection is made in the background; use
 * `whenReady` to wait for it.
 * @throws {InvalidOptionError} for a malformed address or a missing sentinel option
 */
export function connectUpstream(options: UpstreamOptions = {}): Upstream {
  const mode = options.mode ?? 'cluster'
  if (mode !== 'cluster' && mode !== 'standalone' && mode !== 'sentinel') {
    throw new InvalidOptionError(
      '--mode',
      `must be cluster, standalone or sentinel, got ${describeValue(mode)}`,
    )
  }
  const url = parseRedisUrl(
    options.redis ?? (mode === 'cluster' ? 'redis://127.0.0.1:7000' : 'redis://127.0.0.1:6379'),
    6379,
  )
  // RESP2 keeps replies in the shapes the Upstash protocol promises (HGETALL as a flat array);
  // ioredis 6 would otherwise negotiate RESP3.
  const common: RedisOptions = {
    protocol: 2,
    username: url.username,
    password: url.password,
    connectTimeout: 2000,
    ...(url.tls ? { tls: options.tlsCa ? { ca: options.tlsCa } : {} } : {}),
  }
  if (mode === 'cluster') return clusterUpstream(url, common)
  if (mode === 'standalone') {
    // Taking the first of several would hide a cluster's seed list given to the wrong mode.
    if (url.addresses.length > 1)
      throw new InvalidOptionError(
        '--redis',
        `standalone mode takes one host:port, got ${url.addresses.length} (for a cluster: --mode cluster)`,
      )
    return singleUpstream('standalone', { ...common, ...url.addresses[0]! })
  }
  const sentinels = (options.sentinels ?? []).map((s) => parseHostPort(s, '--sentinels'))
  if (sentinels.length === 0)
    throw new InvalidOptionError('--sentinels', 'sentinel mode needs at least one host:port')
  if (!options.masterName)
    throw new InvalidOptionError('--master-name', 'sentinel mode needs the name of the master')
  return singleUpstream('sentinel', { ...common, sentinels, name: options.masterName })
}

function singleUpstream(mode: 'standalone' | 'sentinel', options: RedisOptions): Upstream {
  const client = new Redis({
    ...options,
    // Request-path commands are batched per turn (turn-batching.ts), not auto-pipelined.
    enableAutoPipelining: false,
    // A dead server should surface as 503 within a second or two, not after 20 silent retries;
    // Sentinel gets more room because a failover there takes several seconds.
    maxRetriesPerRequest: mode === 'sentinel' ? 20 : 1,
    retryStrategy: (times) => Math.min(times * 100, 1000),
    // Sentinel: leave the old master the moment the sentinels announce a new one (+switch-master).
    // Without it, after a planned failover (SENTINEL FAILOVER, or one whose old master stays up)
    // the connection stayed on the old master, which kept accepting writes for about 9 s, until
    // the sentinels turned it into a replica, and then dropped them all (measured: 2,166
    // acknowledged writes lost in the 2 s a test wrote after the promotion).
    ...(mode === 'sentinel' ? { failoverDetector: true } : {}),
  })
  let lastError: string | undefined
  // Surfaced per command, in 503 messages and by /readyz; an unhandled 'error' would crash.
  client.on('error', (error: Error) => {
    lastError = error.message
  })
  client.on('ready', () => {
    lastError = undefined
  })
  return {
    mode,
    client,
    lastError: () => lastError,
    masters: () => [client],
    dedicated: () => {
      const connection = client.duplicate({
        enableAutoPipelining: false,
        maxRetriesPerRequest: 0,
        lazyConnect: false,
        // One per blocking request or subscription: the detector would open a connection to every
        // sentinel for each. Such a connection finds the new master when it next connects (its
        // block ends, at most --max-block; or the sentinels turn the old master into a replica,
        // which ends its connections).
        failoverDetector: false,
      })
      connection.on('error', () => {})
      return connection
    },
    whenReady: (ms) => waitReady(client, ms),
    close: () => quitQuietly(client),
  }
}

function clusterUpstream(url: ParsedRedisUrl, common: RedisOptions): Upstream {
  const options: ClusterOptions = {
    scaleReads: 'master',
    // Request-path commands are batched per turn (turn-batching.ts), not auto-pipelined.
    enableAutoPipelining: false,
    // While a master is down, its slots are retried every 200 ms. A command sent alone (not in an
    // ioredis pipeline) can alternate between the dead master's closed connection (a 200 ms wait)
    // and a MOVED back to it from a node that has not yet heard of the promotion (followed at
    // once), so each wait can cost two redirections: 64 allow 6.4 s of waiting at the least,
    // longer than the 3-4 s the cluster takes to promote a replica (cluster-node-timeout 2000);
    // the request's deadline (10 s) still bounds it. Measured: with 32, one write in 1,346 failed
    // "Too many Cluster redirections" after 4.1 s of a failover; with 64, none.
    retryDelayOnFailover: 200,
    maxRedirections: 64,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 200,
    slotsRefreshTimeout: 2000,
    clusterRetryStrategy: (times) => Math.min(times * 100, 1000),
    redisOptions: common,
    // TLS certificates name the host, not the IP the cluster announces: keep the name.
    ...(url.tls ? { dnsLookup: (address, callback) => callback(null, address) } : {}),
  }
  const client = new Cluster(url.addresses, options)
  let lastError: string | undefined
  client.on('error', (error: Error) => {
    lastError = clusterErrorText(error)
  })
  client.on('node error', (error: Error) => {
    lastError = clusterErrorText(error)
  })
  client.on('ready', () => {
    lastError = undefined
  })

  const masterByAddress = (address: string) =>
    client.nodes('master').find((node) => `${node.options.host}:${node.options.port}` === address)

  return {
    mode: 'cluster',
    client,
    lastError: () => lastError,
    masters: () => {
      // Order masters by the first slot they serve: the same order in every proxy copy, and it
      // survives a failover (the promoted replica serves the same slots), so SCAN cursors do too.
      const ordered: Redis[] = []
      const seen = new Set<string>()
      for (const owners of client.slots) {
        const address = owners?.[0]
        if (address === undefined || seen.has(address)) continue
        seen.add(address)
        const node = masterByAddress(address)
        if (node) ordered.push(node)
      }
      return ordered
    },
    dedicated: (target = {}) => {
      const address =
        target.address ?? (target.slot !== undefined ? client.slots[target.slot]?.[0] : undefined)
      const chosen =
        address ??
        client.slots.find((owners) => owners?.[0])?.[0] ??
        `${url.addresses[0]!.host}:${url.addresses[0]!.port}`
      const colon = chosen.lastIndexOf(':')
      const connection = new Redis({
        ...common,
        host: chosen.slice(0, colon),
        port: Number(chosen.slice(colon + 1)),
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      })
      connection.on('error', () => {})
      return connection
    },
    whenReady: (ms) => waitReady(client, ms),
    close: () => quitQuietly(client),
  }
}

async function waitReady(client: Redis | Cluster, ms: number): Promise<boolean> {
  if (client.status === 'ready') return true
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady)
      resolve(false)
    }, ms)
    const onReady = () => {
      clearTimeout(timer)
      resolve(true)
    }
    client.once('ready', onReady)
  })
}

async function quitQuietly(client: Redis | Cluster): Promise<void> {
  try {
    await Promise.race([client.quit(), new Promise((resolve) => setTimeout(resolve, 1000))])
  } catch {
    // already closed
  }
  client.disconnect()
  // Resolve once the sockets are really gone, so a caller may exit or reuse the ports at once.
  if (client.status !== 'end') {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000)
      client.once('end', () => {
        clearTimeout(timer)
        resolve()
      })
    })
  }
}

/**
 * A cluster client's error as /readyz and 503s report it. ioredis's "Failed to refresh slots
 * cache." says why only in `lastNodeError`; the commonest why, a standalone Redis given to cluster
 * mode, gets the fix.
 */
function clusterErrorText(error: Error & { lastNodeError?: Error | null }): string {
  const cause = error.lastNodeError?.message
  const text = cause ? `${error.message} (${cause})` : error.message
  return /cluster support disabled/i.test(text)
    ? `${text}: this Redis is not a cluster node; for a standalone Redis use --mode standalone`
    : text
}
