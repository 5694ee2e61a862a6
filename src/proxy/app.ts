/**
 * The proxy's HTTP surface: the Upstash REST protocol (single command, pipeline, transaction,
 * path-style commands, SSE subscriptions) plus health, readiness and metrics. Every request goes
 * auth → parse → classify → authorize (all commands, before any runs) → execute → encode.
 */
import type { RequestListener } from 'node:http'
import { type Context, Hono } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { Logger } from 'pino'
import { type BlockingLimits, BlockingRunner } from './blocking.js'
import { CommandService, type EncodedAnswer, routeLabel } from './command-service.js'
import { describeCommand } from './command-table.js'
import { CommandExecutor } from './executor.js'
import { type FastRoute, rawCommandRoutes, withCommandFastPath } from './fast-path.js'
import { ProxyHttpError } from './http-error.js'
import type { RawRoutes } from './http1-front.js'
import type { ProxyMetrics } from './metrics.js'
import { readBody } from './read-body.js'
import { ReplicaAcks } from './replica-acks.js'
import { commandFromPath } from './request-body.js'
import { type StreamKind, streamEvents } from './subscribe.js'
import type { Grant, TokenStore } from './tokens.js'
import type { Upstream } from './upstream.js'

/** Everything the HTTP layer needs; `createProxy` fills in defaults. */
export interface ProxyAppOptions {
  upstream: Upstream
  tokens: TokenStore
  metrics: ProxyMetrics
  logger: Logger
  /** Largest accepted body in bytes (413 past it). */
  maxBodyBytes: number
  /** Most commands in one pipeline or transaction. */
  maxCommands: number
  /** Deadline of one request in milliseconds (504 past it). */
  deadlineMs: number
  /** How long a request waits for a (re)connecting upstream before answering 503. */
  readyWaitMs: number
  blocking: BlockingLimits
  /** WAIT mode: writes are answered once `min` replicas have them (within `timeoutMs`). */
  replicaAcks?: { min: number; timeoutMs: number }
  /**
   * The text `/metrics` answers with. Default: this proxy's registry. Under `--workers` the CLI
   * passes the primary's sum over every worker (`src/cli/worker-metrics.ts`).
   */
  readMetrics?: () => Promise<string>
}

/** The app and the counters graceful shutdown needs. */
export interface ProxyApp {
  app: Hono<{ Variables: { grant: Grant; requestId: string } }>
  /** Requests being served now (streams included). */
  inFlight(): number
  /** Ends every open SSE stream (on shutdown). */
  closeStreams(): void
  /**
   * A node:http request listener that answers `POST /`, `/pipeline` and `/multi-exec` itself and
   * hands every other request to `fallback` (the Hono app's listener): see `fast-path.ts`.
   */
  withFastPath(fallback: RequestListener): RequestListener
  /** The same requests for the raw HTTP/1.1 front (`http1-front.ts`), which answers them first. */
  rawRoutes: RawRoutes<FastRoute>
}

const ALLOWED_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT'])

/**
 * Builds the proxy's Hono app.
 * @example
 * const { app } = createProxyApp({ upstream, tokens, metrics, logger, ...limits })
 * serve({ fetch: app.fetch, port: 8079 })
 */
export function createProxyApp(options: ProxyAppOptions): ProxyApp {
  const { upstream, tokens, metrics, logger } = options
  const blocking = new BlockingRunner(upstream, options.blocking, () =>
    metrics.redirections.inc({ kind: 'followed' }),
  )
  const acks = options.replicaAcks
    ? new ReplicaAcks(upstream, options.replicaAcks.min, options.replicaAcks.timeoutMs)
    : undefined
  const executor = new CommandExecutor(upstream, blocking, acks)
  const service = new CommandService(upstream, tokens, metrics, logger, executor, {
    maxBodyBytes: options.maxBodyBytes,
    maxCommands: options.maxCommands,
    deadlineMs: options.deadlineMs,
    readyWaitMs: options.readyWaitMs,
    blocking: options.blocking,
  })
  const app = new Hono<{ Variables: { grant: Grant; requestId: string } }>()
  const streamAborts = new Set<AbortController>()
  if (upstream.mode === 'cluster')
    upstream.client.on('refresh', () => metrics.redirections.inc({ kind: 'slots_refresh' }))

  app.use(async function accountRequest(c, next) {
    const started = performance.now()
    const reqId = service.requestId(c.req.header('x-request-id'))
    c.set('requestId', reqId)
    c.header('X-Request-Id', reqId)
    // Set before the handler runs: a header added to a finished response makes node-server
    // build a full undici Response, which measured as a large share of each request's cost.
    c.header('upstash-sync-token', service.begin())
    try {
      if (!ALLOWED_METHODS.has(c.req.method)) {
        throw new ProxyHttpError(405, `Method ${c.req.method} not allowed (use POST, GET, PUT or HEAD)`)
      }
      await next()
    } finally {
      service.end(c.req.method, routeLabel(c.req.path), c.res.status, started, reqId)
    }
  })
  app.onError((error, c) => {
    const answer = service.errorAnswer(error, c.get('requestId'))
    // The rest of a too-large body is never read, so the connection cannot carry another
    // request: say so, or a keep-alive client would reuse a socket the server is closing.
    if (answer.closeConnection) c.header('Connection', 'close')
    c.header('Content-Type', 'application/json')
    return c.body(answer.body, answer.status as ContentfulStatusCode)
  })
  app.notFound((c) => c.json({ error: `Not found: ${c.req.path}` }, 404))

  app.get('/healthz', (c) => c.json({ status: 'ok' }))
  app.get('/readyz', async (c) => {
    const problem = await readiness(upstream)
    return problem
      ? c.json({ status: 'unavailable', error: problem }, 503)
      : c.json({ status: 'ready', mode: upstream.mode })
  })
  metrics.trackBlocking(() => blocking.inUse)
  const readMetrics = options.readMetrics ?? (() => metrics.registry.metrics())
  app.get('/metrics', async (c) => {
    let text: string
    try {
      text = await readMetrics()
    } catch (error) {
      throw new ProxyHttpError(503, `metrics unavailable: ${(error as Error).message}`)
    }
    c.header('Content-Type', metrics.registry.contentType)
    return c.body(text)
  })

  app.use(async function authenticate(c, next) {
    c.set('grant', service.authenticate(c.req.header('authorization'), c.req.query('_token')))
    await next()
  })

  const send = (c: Context, answer: EncodedAnswer) => {
    c.header('Content-Type', answer.contentType)
    return typeof answer.body === 'string'
      ? c.body(answer.body)
      : c.body(answer.body as Uint8Array<ArrayBuffer>)
  }
  const answerBody = async (c: Context, route: '/' | '/pipeline' | '/multi-exec') =>
    send(
      c,
      await service.answerBody(
        c.get('grant') as Grant,
        route,
        await readBody(c, options.maxBodyBytes),
        c.req.header('upstash-response-format'),
        c.req.header('upstash-encoding'),
      ),
    )

  app.post('/', (c) => answerBody(c, '/'))
  app.post('/pipeline', (c) => answerBody(c, '/pipeline'))
  app.post('/multi-exec', (c) => answerBody(c, '/multi-exec'))
  const sse = (kind: StreamKind) => (c: Context) => {
    const target = kind === 'monitor' ? '' : (c.req.param('target') ?? '')
    const grant = c.get('grant') as Grant
    // MONITOR itself is refused over POST / (it would take over a shared connection): the stream
    // runs it on a connection of its own, for admin tokens only.
    if (kind === 'monitor') {
      if (grant.kind !== 'admin') throw new ProxyHttpError(403, 'NOPERM MONITOR needs an admin token')
    } else if (grant.prefix !== undefined && !target.startsWith(grant.prefix)) {
      // Listening is a read, so read-only tokens may subscribe; a prefix limits channels too.
      throw new ProxyHttpError(403, `NOPERM channel must start with ${JSON.stringify(grant.prefix)}`)
    }
    const abort = new AbortController()
    streamAborts.add(abort)
    c.req.raw.signal.addEventListener('abort', () => abort.abort(), { once: true })
    return streamEvents(c, upstream, blocking, kind, target, abort.signal, () => streamAborts.delete(abort))
  }
  app.post('/subscribe/:target', sse('subscribe'))
  app.post('/psubscribe/:target', sse('psubscribe'))
  app.post('/monitor', sse('monitor'))
  app.all('/*', async (c) => {
    // Path style: /<cmd>/<arg1>/.../<argN>, a POST/PUT body as the last argument.
    const segments = new URL(c.req.url).pathname.split('/').slice(1)
    if (segments[0] === '' || !describeCommand([decodeSafe(segments[0]!)]).known) {
      return c.json({ error: `Not found: ${c.req.path}` }, 404)
    }
    const body =
      c.req.method === 'POST' || c.req.method === 'PUT' ? await readBody(c, options.maxBodyBytes) : undefined
    const command = commandFromPath(segments, new URL(c.req.url).searchParams, body)
    const value = await service.single(c.get('grant') as Grant, command)
    const format = c.req.header('upstash-response-format')
    return send(c, service.encodeOne(value, format, c.req.header('upstash-encoding')))
  })

  return {
    app,
    inFlight: () => service.inFlight,
    closeStreams: () => {
      for (const abort of streamAborts) abort.abort()
    },
    withFastPath: (fallback) => withCommandFastPath(service, fallback),
    rawRoutes: rawCommandRoutes(service),
  }
}

async function readiness(upstream: Upstream): Promise<string | undefined> {
  if (!(await upstream.whenReady(1000))) {
    const cause = upstream.lastError()
    return `upstream not connected (status ${upstream.client.status}${cause ? `; last error: ${cause}` : ''})`
  }
  try {
    if (upstream.mode !== 'cluster') {
      await upstream.client.ping()
      // A cluster node given to standalone mode answers MOVED for every slot it does not own.
      if (upstream.mode === 'standalone' && /cluster_enabled:1/.test(await upstream.client.info('cluster')))
        return 'this Redis is a cluster node: standalone mode would answer MOVED for most keys; use --mode cluster'
      return undefined
    }
    const masters = upstream.masters()
    if (masters.length === 0) return 'no master known'
    const info = String(await masters[0]!.cluster('INFO'))
    return /cluster_state:ok/.test(info) ? undefined : 'cluster_state is not ok'
  } catch (error) {
    return (error as Error).message
  }
}

function decodeSafe(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}
