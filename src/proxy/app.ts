/**
 * The proxy's HTTP surface: the Upstash REST protocol (single command, pipeline, transaction,
 * path-style commands, SSE subscriptions) plus health, readiness and metrics. Every request goes
 * auth → parse → classify → authorize (all commands, before any runs) → execute → encode.
 */
import { randomUUID } from 'node:crypto'
import { type Context, Hono } from 'hono'
import { requestId } from 'hono/request-id'
import type { Logger } from 'pino'
import { type BlockingLimits, BlockingRunner } from './blocking.js'
import { type CommandArgs, type CommandInfo, describeCommand } from './command-table.js'
import { encodeReply } from './encode.js'
import { CommandExecutor, isRedisReply, type Outcome } from './executor.js'
import { ProxyHttpError } from './http-error.js'
import type { ProxyMetrics } from './metrics.js'
import { readBody } from './read-body.js'
import { ReplicaAcks } from './replica-acks.js'
import { commandFromPath, parseJson, toCommand, toCommandList } from './request-body.js'
import { toResp2 } from './resp2.js'
import { type StreamKind, streamEvents } from './subscribe.js'
import { authorize, type Grant, type TokenStore } from './tokens.js'
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
}

/** The app and the counters graceful shutdown needs. */
export interface ProxyApp {
  app: Hono<{ Variables: { grant: Grant; requestId: string } }>
  /** Requests being served now (streams included). */
  inFlight(): number
  /** Ends every open SSE stream (on shutdown). */
  closeStreams(): void
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
  const app = new Hono<{ Variables: { grant: Grant; requestId: string } }>()
  const bootId = randomUUID().slice(0, 8)
  let syncCounter = 0
  let inFlight = 0
  const streamAborts = new Set<AbortController>()
  if (upstream.mode === 'cluster')
    upstream.client.on('refresh', () => metrics.redirections.inc({ kind: 'slots_refresh' }))

  app.use(requestId())
  app.use(async function accountRequest(c, next) {
    const started = performance.now()
    inFlight++
    // read-your-writes: every response carries a fresh token; any token the client echoes back
    // (missing, empty, stale) is accepted, because every write is acknowledged by the master.
    // Set before the handler runs: a header added to a finished response makes node-server
    // build a full undici Response, which measured as a large share of each request's cost.
    c.header('upstash-sync-token', `${bootId}-${++syncCounter}`)
    try {
      if (!ALLOWED_METHODS.has(c.req.method)) {
        throw new ProxyHttpError(405, `Method ${c.req.method} not allowed (use POST, GET, PUT or HEAD)`)
      }
      await next()
    } finally {
      inFlight--
      const route = routeLabel(c.req.path)
      const seconds = (performance.now() - started) / 1000
      metrics.observeRequest(route, c.res.status, seconds)
      if (c.res.status >= 500) {
        logger.warn(
          {
            reqId: c.get('requestId'),
            method: c.req.method,
            route,
            status: c.res.status,
            ms: Math.round(seconds * 1000),
          },
          'request failed',
        )
      } else if (logger.isLevelEnabled('debug')) {
        logger.debug(
          {
            reqId: c.get('requestId'),
            method: c.req.method,
            route,
            status: c.res.status,
            ms: Math.round(seconds * 1000),
          },
          'request',
        )
      }
    }
  })
  app.onError((error, c) => errorResponse(c, error, logger))
  app.notFound((c) => c.json({ error: `Not found: ${c.req.path}` }, 404))

  app.get('/healthz', (c) => c.json({ status: 'ok' }))
  app.get('/readyz', async (c) => {
    const problem = await readiness(upstream)
    return problem
      ? c.json({ status: 'unavailable', error: problem }, 503)
      : c.json({ status: 'ready', mode: upstream.mode })
  })
  app.get('/metrics', async (c) => {
    metrics.blockingInUse.set(blocking.inUse)
    c.header('Content-Type', metrics.registry.contentType)
    return c.body(await metrics.registry.metrics())
  })

  app.use(async function authenticate(c, next) {
    const header = c.req.header('authorization')
    const bearer = header?.toLowerCase().startsWith('bearer ') ? header.slice(7).trim() : undefined
    c.set('grant', tokens.authenticate(bearer || c.req.query('_token')))
    await next()
  })

  const prepare = (c: Context, commands: CommandArgs[]): CommandInfo[] => {
    const grant = c.get('grant') as Grant
    // Authorize every command before running any, so a refused pipeline changes nothing.
    return commands.map((command) => {
      const info = describeCommand(command)
      authorize(grant, command, info)
      metrics.countCommand(info.name)
      return info
    })
  }
  const run = async <T>(commands: CommandInfo[], work: () => Promise<T>): Promise<T> => {
    if (!(await upstream.whenReady(options.readyWaitMs))) {
      metrics.upstreamErrors.inc({ kind: 'unreachable' })
      const cause = upstream.lastError()
      throw new ProxyHttpError(
        503,
        `ERR upstream Redis unreachable (not connected within ${options.readyWaitMs} ms${cause ? `; last error: ${cause}` : ''})`,
      )
    }
    // A blocking command may legitimately wait up to the maximum block time.
    const deadline = commands.some((i) => i.blocking)
      ? Math.max(options.deadlineMs, options.blocking.maxBlockMs + 2000)
      : options.deadlineMs
    return withDeadline(work(), deadline, () => metrics.upstreamErrors.inc({ kind: 'deadline' }))
  }
  const single = async (c: Context, command: CommandArgs) => {
    const infos = prepare(c, [command])
    const value = await run(infos, () => executor.run(command, infos[0]!)).catch((error: Error) => {
      if (error instanceof ProxyHttpError) throw error
      if (isRedisReply(error)) throw new ProxyHttpError(400, error.message, { cause: error })
      metrics.upstreamErrors.inc({ kind: 'unavailable' })
      throw new ProxyHttpError(503, `ERR upstream Redis unavailable: ${error.message}`, { cause: error })
    })
    return respond(c, [{ ok: true, value }], false)
  }
  const many = async (c: Context, kind: 'pipeline' | 'multi-exec') => {
    const commands = toCommandList(parseJson(await readBody(c, options.maxBodyBytes)), options.maxCommands)
    const infos = prepare(c, commands)
    const outcomes = await run(infos, () =>
      kind === 'pipeline' ? executor.pipeline(commands, infos) : executor.transaction(commands, infos),
    )
    const failed = outcomes.filter((o) => !o.ok && !isRedisReply(o.error)).length
    if (failed > 0) metrics.upstreamErrors.inc({ kind: 'unavailable' }, failed)
    // Nothing ran: say so with a status the client (and a load balancer) can act on.
    if (failed === outcomes.length) {
      throw new ProxyHttpError(
        503,
        `ERR upstream Redis unavailable: ${(outcomes[0] as { error: Error }).error.message}`,
      )
    }
    return respond(c, outcomes, true)
  }

  app.post('/', async (c) => single(c, toCommand(parseJson(await readBody(c, options.maxBodyBytes)))))
  app.post('/pipeline', (c) => many(c, 'pipeline'))
  app.post('/multi-exec', (c) => many(c, 'multi-exec'))
  const sse = (kind: StreamKind) => (c: Context) => {
    const target = kind === 'monitor' ? '' : (c.req.param('target') ?? '')
    const grant = c.get('grant') as Grant
    if (kind === 'monitor') prepare(c, [['MONITOR']])
    else if (grant.prefix !== undefined && !target.startsWith(grant.prefix)) {
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
    return single(c, commandFromPath(segments, new URL(c.req.url).searchParams, body))
  })

  return {
    app,
    inFlight: () => inFlight,
    closeStreams: () => {
      for (const abort of streamAborts) abort.abort()
    },
  }
}

function respond(c: Context, outcomes: Outcome[], asArray: boolean): Response {
  if (c.req.header('upstash-response-format')?.toLowerCase() === 'resp2') {
    c.header('Content-Type', 'application/octet-stream')
    return c.body(new Uint8Array(Buffer.concat(outcomes.map(toResp2))))
  }
  const base64 = c.req.header('upstash-encoding')?.toLowerCase() === 'base64'
  // A success item has no `error` key and an error item no `result` key (the client checks both).
  const items = outcomes.map((o) =>
    o.ok ? { result: encodeReply(o.value, base64) } : { error: o.error.message },
  )
  return c.json(asArray ? items : items[0])
}

function errorResponse(c: Context, error: Error, logger: Logger): Response {
  if (error instanceof ProxyHttpError) {
    // The rest of a too-large body is never read, so the connection cannot carry another
    // request: say so, or a keep-alive client would reuse a socket the server is closing.
    if (error.status === 413) c.header('Connection', 'close')
    return c.json({ error: error.message }, error.status)
  }
  // Anything unexpected is a bug: log it with its stack, answer JSON (never plain text).
  logger.error({ err: error, reqId: c.get('requestId') }, 'unhandled error')
  return c.json({ error: `ERR internal proxy error: ${error.message}` }, 500)
}

async function withDeadline<T>(work: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout()
      reject(new ProxyHttpError(504, `ERR deadline of ${ms} ms passed before Redis answered`))
    }, ms)
  })
  try {
    return await Promise.race([work, deadline])
  } finally {
    clearTimeout(timer)
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

function routeLabel(path: string): string {
  if (path === '/' || path === '/pipeline' || path === '/multi-exec' || path === '/monitor') return path
  if (path === '/healthz' || path === '/readyz' || path === '/metrics') return path
  if (path.startsWith('/subscribe/')) return '/subscribe'
  if (path.startsWith('/psubscribe/')) return '/psubscribe'
  return '/<command>' // path style; the command itself is counted in commands_total
}

function decodeSafe(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}
