/**
 * `createProxy` / `startProxy`: the Upstash-REST-compatible proxy as a library. The CLI
 * (`tiercache proxy`) is a thin layer over `startProxy`.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { getRequestListener } from '@hono/node-server'
import pino, { type Logger } from 'pino'
import type { Registry } from 'prom-client'
import { checkTimer, type Duration, parseDuration } from '../duration.js'
import { InvalidOptionError } from '../errors.js'
import { checkOptionNames, describeValue } from '../option-names.js'
import { createProxyApp, type ProxyApp } from './app.js'
import { answerClientError, answerRequestError, requireHost } from './client-error.js'
import type { FastRoute } from './fast-path.js'
import { RawHttp1Front } from './http1-front.js'
import { ProxyMetrics } from './metrics.js'
import { type TokenSpec, TokenStore } from './tokens.js'
import { connectUpstream, type Upstream, type UpstreamOptions } from './upstream.js'
import { logUpstreamState } from './upstream-log.js'

/** Default limits, named where they are read. */
const DEFAULT_MAX_BODY_BYTES = 1024 * 1024
const DEFAULT_MAX_COMMANDS = 1000
const DEFAULT_DEADLINE: Duration = '10s'
const DEFAULT_MAX_BLOCKING = 64
const DEFAULT_MAX_BLOCK: Duration = '30s'
const DEFAULT_READY_WAIT: Duration = '2s'
/**
 * Sentinel mode: a killed master's connection is down for the whole failover (the sentinels'
 * down-after time, then the election: 3–4 s in the tests), and a request arriving meanwhile waits
 * for the master they name. With 2 s, writes sent during a failover were answered 503 in some
 * runs; 8 s stays inside the request deadline's default (10 s).
 */
const DEFAULT_SENTINEL_READY_WAIT: Duration = '8s'
const DEFAULT_DRAIN: Duration = '10s'
const DEFAULT_REPLICA_ACK_TIMEOUT: Duration = '1s'
const DEFAULT_HEADERS_TIMEOUT: Duration = '10s'

/** Options of a proxy. Only `tokens` is required. */
export interface ProxyOptions extends UpstreamOptions {
  /** Who may call the proxy (at least one). */
  tokens: TokenSpec[]
  /** Largest request body (413 past it). @default 1 MiB */
  maxBodyBytes?: number
  /** Most commands in one pipeline or transaction (400 past it). @default 1000 */
  maxCommands?: number
  /** Per-request deadline (504 past it). @default '10s' */
  deadline?: Duration
  /** Blocking commands and subscriptions at once (429 past it). @default 64 */
  maxBlocking?: number
  /** Longest block a blocking command may ask for; longer or infinite blocks are shortened. @default '30s' */
  maxBlock?: Duration
  /** How long a request waits for a reconnecting upstream before a 503. @default '2s' ('8s' in Sentinel mode) */
  readyWait?: Duration
  /**
   * WAIT mode: a write is answered only once this many replicas have it (Redis `WAIT` on the
   * connection it went out on); fewer within `replicaAckTimeout` → 503 `NOREPLICAS`. 0: off.
   * @default 0
   */
  minReplicaAcks?: number
  /** How long a write waits for its replicas in WAIT mode. @default '1s' */
  replicaAckTimeout?: Duration
  /** pino logger, or a level for the default JSON logger on stdout. @default 'info' */
  logger?: Logger | pino.Level | 'silent'
  /**
   * Makes, from this proxy's own registry, what `/metrics` answers with. Default: that registry's
   * text. `tiercache proxy --workers` passes `clusterMetricsReader`, the sum over every worker.
   */
  metricsReader?: (own: Registry) => () => Promise<string>
}

/** A proxy that is not yet listening: its Hono app and its upstream connections. */
export interface Proxy extends ProxyApp {
  upstream: Upstream
  metrics: ProxyMetrics
  logger: Logger
  /** Largest request body accepted, in bytes (413 past it). */
  maxBodyBytes: number
  /** Closes the upstream connections (the HTTP server, if any, is the caller's). */
  close(): Promise<void>
}

function positiveInteger(value: number | undefined, fallback: number, option: string): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value <= 0)
    throw new InvalidOptionError(option, `must be a positive integer, got ${describeValue(value)}`)
  return value
}

/** A duration the proxy waits for with a timer (a request's deadline, a socket's timeout). */
function timer(value: unknown, option: string): number {
  return checkTimer(parseDuration(value, option), option)
}

/**
 * Builds a proxy (validating every option) without listening.
 * @throws {InvalidOptionError} naming the first bad option
 * @example
 * const proxy = createProxy({ mode: 'cluster', redis: 'redis://127.0.0.1:7000', tokens: [{ token: 'secret' }] })
 * const response = await proxy.app.request('/', { method: 'POST', headers: { authorization: 'Bearer secret' }, body: '["PING"]' })
 */
export function createProxy(options: ProxyOptions): Proxy {
  const tokens = new TokenStore(options.tokens ?? [])
  const limits = {
    maxBodyBytes: positiveInteger(options.maxBodyBytes, DEFAULT_MAX_BODY_BYTES, 'maxBodyBytes'),
    maxCommands: positiveInteger(options.maxCommands, DEFAULT_MAX_COMMANDS, 'maxCommands'),
    deadlineMs: timer(options.deadline ?? DEFAULT_DEADLINE, 'deadline'),
    readyWaitMs: timer(
      options.readyWait ?? (options.mode === 'sentinel' ? DEFAULT_SENTINEL_READY_WAIT : DEFAULT_READY_WAIT),
      'readyWait',
    ),
    blocking: {
      maxConnections: positiveInteger(options.maxBlocking, DEFAULT_MAX_BLOCKING, 'maxBlocking'),
      maxBlockMs: timer(options.maxBlock ?? DEFAULT_MAX_BLOCK, 'maxBlock'),
    },
  }
  if (limits.deadlineMs === 0) throw new InvalidOptionError('deadline', 'must be more than 0')
  const minReplicaAcks = options.minReplicaAcks ?? 0
  if (!Number.isInteger(minReplicaAcks) || minReplicaAcks < 0)
    throw new InvalidOptionError(
      'minReplicaAcks',
      `must be an integer ≥ 0, got ${describeValue(minReplicaAcks)}`,
    )
  const replicaAckTimeoutMs = timer(
    options.replicaAckTimeout ?? DEFAULT_REPLICA_ACK_TIMEOUT,
    'replicaAckTimeout',
  )
  if (replicaAckTimeoutMs === 0)
    throw new InvalidOptionError('replicaAckTimeout', 'must be more than 0 (0 would wait forever)')
  const logger =
    typeof options.logger === 'object'
      ? options.logger
      : pino({ level: options.logger ?? 'info', name: 'tiercache-proxy' })
  const upstream = connectUpstream(options)
  logUpstreamState(upstream, logger)
  const metrics = new ProxyMetrics()
  const app = createProxyApp({
    upstream,
    tokens,
    metrics,
    logger,
    ...limits,
    ...(minReplicaAcks > 0 ? { replicaAcks: { min: minReplicaAcks, timeoutMs: replicaAckTimeoutMs } } : {}),
    ...(options.metricsReader ? { readMetrics: options.metricsReader(metrics.registry) } : {}),
  })
  return {
    ...app,
    upstream,
    metrics,
    logger,
    maxBodyBytes: limits.maxBodyBytes,
    close: () => upstream.close(),
  }
}

/** A listening proxy. */
export interface RunningProxy {
  /** `http://host:port` */
  url: string
  port: number
  proxy: Proxy
  /** The raw HTTP/1.1 front, unless started with `rawHttp: false`. */
  rawFront: RawHttp1Front<FastRoute> | undefined
  /**
   * Graceful shutdown: stop accepting, end SSE streams, wait for in-flight requests (up to
   * `drain`), then close Redis connections.
   */
  close(drain?: Duration): Promise<void>
}

/** The options `startProxy` knows (the proxy's, the upstream's, the server's): any other name is refused. */
const START_OPTIONS = [
  'tokens',
  'maxBodyBytes',
  'maxCommands',
  'deadline',
  'maxBlocking',
  'maxBlock',
  'readyWait',
  'minReplicaAcks',
  'replicaAckTimeout',
  'logger',
  'metricsReader',
  'mode',
  'redis',
  'sentinels',
  'masterName',
  'tlsCa',
  'port',
  'host',
  'headersTimeout',
  'rawHttp',
]

/**
 * Starts a proxy on `host:port` (port 0 picks a free one).
 * @example
 * const { url, close } = await startProxy({ port: 8079, tokens: [{ token: process.env.TOKEN! }] })
 */
export async function startProxy(
  options: ProxyOptions & {
    port?: number
    host?: string
    /**
     * A client that has not sent its whole request head by then is disconnected (slow clients
     * holding sockets open). @default '10s'
     */
    headersTimeout?: Duration
    /**
     * Answer the hot requests on the raw HTTP/1.1 front (`http1-front.ts`) rather than on
     * node:http: the same answers for about 25 µs of CPU each instead of 35 (bench/proxy). @default true
     */
    rawHttp?: boolean
  },
): Promise<RunningProxy> {
  checkOptionNames(options, START_OPTIONS)
  // Checked here: node:net's own RangeError would name neither the option nor the range.
  const listenPort = options.port ?? 8079
  if (typeof listenPort !== 'number' || !Number.isInteger(listenPort) || listenPort < 0 || listenPort > 65535)
    throw new InvalidOptionError(
      'port',
      `must be an integer from 0 to 65535 (0: any free port), got ${describeValue(listenPort)}`,
    )
  const host = options.host ?? '127.0.0.1'
  if (typeof host !== 'string' || host === '')
    throw new InvalidOptionError('host', `must be an address or a host name, got ${describeValue(host)}`)
  const headersTimeoutMs = timer(options.headersTimeout ?? DEFAULT_HEADERS_TIMEOUT, 'headersTimeout')
  if (headersTimeoutMs === 0) throw new InvalidOptionError('headersTimeout', 'must be more than 0')
  const proxy = createProxy(options)
  const requestTimeoutMs = Math.max(30_000, headersTimeoutMs)
  const checkIntervalMs = Math.min(1000, headersTimeoutMs)
  const front =
    options.rawHttp === false
      ? undefined
      : new RawHttp1Front(proxy.rawRoutes, {
          maxBodyBytes: proxy.maxBodyBytes,
          headersTimeoutMs,
          requestTimeoutMs,
          checkIntervalMs,
        })
  const listening = new Promise<Server>((resolve, reject) => {
    const s = createServer(
      // Node waits 60 s for a request head and checks every 30 s: a crowd of slow clients could
      // hold that many sockets for a minute and a half. Here: `headersTimeout`, checked every
      // second; a whole request (head and body) must arrive within 30 s.
      {
        headersTimeout: headersTimeoutMs,
        requestTimeout: requestTimeoutMs,
        connectionsCheckingInterval: checkIntervalMs,
        requireHostHeader: false, // checked by requireHost, which answers in JSON
      },
      // The hot routes skip Hono (see fast-path.ts); everything else is the Hono app's, through
      // @hono/node-server's listener (what its `serve` builds, plus an error handler: a request
      // it cannot make a URL of is answered in JSON, not with its bare 400).
      requireHost(
        proxy.withFastPath(
          getRequestListener(proxy.app.fetch, { hostname: host, errorHandler: answerRequestError }),
        ),
      ),
    )
    s.once('error', reject)
    // Requests node:http cannot parse are answered in JSON too (its own answer has no body).
    s.on('clientError', answerClientError)
    // Before the first connection: the front sees every one.
    front?.attach(s)
    s.listen(listenPort, host, () => resolve(s))
  })
  let server: Server
  try {
    server = await listening
  } catch (error) {
    // Nothing may be left running (the upstream's connections would keep the process alive).
    front?.closeAll()
    await proxy.close()
    throw listenError(error, host, listenPort)
  }
  const port = (server.address() as AddressInfo).port
  let closing: Promise<void> | undefined
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    proxy,
    rawFront: front,
    close: (drain = DEFAULT_DRAIN) => {
      closing ??= (async () => {
        const drainMs = parseDuration(drain, 'drain')
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        front?.closeIdle()
        proxy.closeStreams()
        const deadline = Date.now() + drainMs
        while (proxy.inFlight() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
        // Idle keep-alive sockets would hold server.close() open: drop them once in-flight work is done.
        if ('closeAllConnections' in server) server.closeAllConnections()
        front?.closeAll()
        await closed
        await proxy.close()
      })()
      return closing
    },
  }
}

/** A failed `listen` as the option that caused it, when it is one; other errors as they are. */
function listenError(error: unknown, host: string, port: number): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  if (code === 'EADDRINUSE')
    return new InvalidOptionError('port', `${host}:${port} is already in use`, { cause: error })
  if (code === 'EACCES')
    return new InvalidOptionError('port', `${port} needs privileges to listen on (ports below 1024)`, {
      cause: error,
    })
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
    return new InvalidOptionError('host', `${host} is not an address of this machine`, { cause: error })
  return error
}
