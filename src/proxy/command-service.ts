/**
 * The proxy's command work, apart from any HTTP framework: authenticate, authorize every command
 * before any runs, run with a deadline, encode the replies, map failures to statuses, and account
 * for each request (metrics, logs, the in-flight count). The Hono app and the node:http fast path
 * (`fast-path.ts`) both answer through it, so the two cannot drift apart.
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { BlockingLimits } from './blocking.js'
import { type CommandArgs, type CommandInfo, describeCommand } from './command-table.js'
import { Deadlines } from './deadlines.js'
import { encodeReply } from './encode.js'
import { type CommandExecutor, isRedisReply, type Outcome } from './executor.js'
import { ProxyHttpError } from './http-error.js'
import type { ProxyMetrics } from './metrics.js'
import { parseJson, toCommand, toCommandList } from './request-body.js'
import { toResp2 } from './resp2.js'
import { authorize, type Grant, type TokenStore } from './tokens.js'
import type { Upstream } from './upstream.js'

/** Limits the service enforces. */
export interface CommandLimits {
  /** Largest accepted body in bytes (413 past it). */
  maxBodyBytes: number
  /** Most commands in one pipeline or transaction. */
  maxCommands: number
  /** Deadline of one request in milliseconds (504 past it). */
  deadlineMs: number
  /** How long a request waits for a (re)connecting upstream before answering 503. */
  readyWaitMs: number
  blocking: BlockingLimits
}

/** An encoded answer: its content type and body. */
export interface EncodedAnswer {
  contentType: string
  body: string | Uint8Array
}

/** An error as the client sees it. */
export interface ErrorAnswer {
  status: number
  /** JSON `{"error": ...}` text. */
  body: string
  /** The rest of the request was not read (413): the connection cannot carry another request. */
  closeConnection: boolean
}

/** Longest request id taken from the client's `X-Request-Id` (as Hono's requestId middleware). */
const MAX_REQUEST_ID = 255
const REQUEST_ID_REFUSED = /[^\w\-=]/

/** Runs authorized commands and accounts for requests; one per proxy. */
export class CommandService {
  readonly limits: CommandLimits
  readonly #upstream: Upstream
  readonly #tokens: TokenStore
  readonly #metrics: ProxyMetrics
  readonly #logger: Logger
  readonly #executor: CommandExecutor
  readonly #deadlines = new Deadlines()
  readonly #bootId = randomUUID().slice(0, 8)
  #syncCounter = 0
  #requestCounter = 0
  #inFlight = 0

  constructor(
    upstream: Upstream,
    tokens: TokenStore,
    metrics: ProxyMetrics,
    logger: Logger,
    executor: CommandExecutor,
    limits: CommandLimits,
  ) {
    this.#upstream = upstream
    this.#tokens = tokens
    this.#metrics = metrics
    this.#logger = logger
    this.#executor = executor
    this.limits = limits
  }

  /** Requests being served now (streams included). */
  get inFlight(): number {
    return this.#inFlight
  }

  /**
   * Starts accounting for a request and returns its `upstash-sync-token`. Read-your-writes:
   * every response carries a fresh token; any token the client echoes back (missing, empty,
   * stale) is accepted, because every write is acknowledged by the master.
   */
  begin(): string {
    this.#inFlight++
    return `${this.#bootId}-${++this.#syncCounter}`
  }

  /** Ends a request begun with `begin`: metrics, and a log line for failures (and at debug level). */
  end(method: string, route: string, status: number, started: number, requestId: string): void {
    this.#inFlight--
    const seconds = (performance.now() - started) / 1000
    this.#metrics.observeRequest(route, status, seconds)
    if (status >= 500) {
      this.#logger.warn(
        { reqId: requestId, method, route, status, ms: Math.round(seconds * 1000) },
        'request failed',
      )
    } else if (this.#logger.isLevelEnabled('debug')) {
      this.#logger.debug(
        { reqId: requestId, method, route, status, ms: Math.round(seconds * 1000) },
        'request',
      )
    }
  }

  /**
   * The client's `X-Request-Id` when it is short and plain, else a new one: this proxy's boot id
   * and a count in base 36 (`3f9a1c2e-r1a2b`), unique among proxies as the sync token is. Why not
   * a random UUID: 0.2 µs and 36 more header bytes to check and send on every request.
   */
  requestId(presented: string | undefined): string {
    if (!presented || presented.length > MAX_REQUEST_ID || REQUEST_ID_REFUSED.test(presented))
      return `${this.#bootId}-r${(++this.#requestCounter).toString(36)}`
    return presented
  }

  /**
   * The grant of a request, from `Authorization: Bearer <token>` or the `_token` query parameter.
   * @throws {ProxyHttpError} 401
   */
  authenticate(authorization: string | undefined, queryToken: string | undefined): Grant {
    const bearer = authorization?.toLowerCase().startsWith('bearer ')
      ? authorization.slice(7).trim()
      : undefined
    return this.#tokens.authenticate(bearer || queryToken)
  }

  /**
   * Describes, authorizes and counts commands: every one before any runs, so a refused pipeline
   * changes nothing.
   * @throws {ProxyHttpError} 400 or 403 for the first command refused
   */
  prepare(grant: Grant, commands: CommandArgs[]): CommandInfo[] {
    const infos: CommandInfo[] = new Array(commands.length)
    let authorized = 0
    try {
      for (const command of commands) {
        const info = describeCommand(command)
        authorize(grant, command, info)
        infos[authorized++] = info
      }
    } finally {
      // Counted once per name and request (a 100-command pipeline was 100 counter updates).
      this.#metrics.countCommands(infos, authorized)
    }
    return infos
  }

  /**
   * Runs one command; its reply as ioredis gives it (`encodeOne` encodes it).
   * @throws {ProxyHttpError} 400 with Redis's error, 503 when Redis cannot be reached, 504 past the deadline
   */
  async single(grant: Grant, command: CommandArgs): Promise<unknown> {
    const infos = this.prepare(grant, [command])
    try {
      return await this.#run(infos, () => this.#executor.run(command, infos[0]!))
    } catch (error) {
      if (error instanceof ProxyHttpError) throw error
      if (isRedisReply(error as Error))
        throw new ProxyHttpError(400, (error as Error).message, { cause: error })
      this.#metrics.upstreamErrors.inc({ kind: 'unavailable' })
      throw new ProxyHttpError(503, `ERR upstream Redis unavailable: ${(error as Error).message}`, {
        cause: error,
      })
    }
  }

  /**
   * Runs a pipeline or a transaction; each item keeps its own outcome.
   * @throws {ProxyHttpError} 503 when no item could reach Redis, 504 past the deadline
   */
  async many(grant: Grant, kind: 'pipeline' | 'multi-exec', commands: CommandArgs[]): Promise<Outcome[]> {
    const infos = this.prepare(grant, commands)
    const outcomes = await this.#run(infos, () =>
      kind === 'pipeline'
        ? this.#executor.pipeline(commands, infos)
        : this.#executor.transaction(commands, infos),
    )
    const failed = outcomes.filter((o) => !o.ok && !isRedisReply(o.error)).length
    if (failed > 0) this.#metrics.upstreamErrors.inc({ kind: 'unavailable' }, failed)
    // Nothing ran: say so with a status the client (and a load balancer) can act on.
    if (failed === outcomes.length) {
      throw new ProxyHttpError(
        503,
        `ERR upstream Redis unavailable: ${(outcomes[0] as { error: Error }).error.message}`,
      )
    }
    return outcomes
  }

  /**
   * Answers a body sent to `POST /` (one command), `/pipeline` or `/multi-exec`: parse, validate,
   * authorize, run, encode. The Hono routes and the node:http fast path both answer through it.
   * @throws {ProxyHttpError} for a bad body, a refused command, or Redis out of reach
   */
  async answerBody(
    grant: Grant,
    route: '/' | '/pipeline' | '/multi-exec',
    text: string,
    format: string | undefined,
    encoding: string | undefined,
  ): Promise<EncodedAnswer> {
    const body = parseJson(text)
    if (route === '/') return this.encodeOne(await this.single(grant, toCommand(body)), format, encoding)
    const outcomes = await this.many(
      grant,
      route === '/pipeline' ? 'pipeline' : 'multi-exec',
      toCommandList(body, this.limits.maxCommands),
    )
    return this.encode(outcomes, true, format, encoding)
  }

  /** Encodes the reply of one command as `encode` does a one-item outcome list. */
  encodeOne(value: unknown, format: string | undefined, encoding: string | undefined): EncodedAnswer {
    if (format !== undefined) return this.encode([{ ok: true, value }], false, format, encoding)
    // No object and no array on the common path: `{"result":…}` written directly.
    const result = encodeReply(value, encoding !== undefined && encoding.toLowerCase() === 'base64')
    return { contentType: 'application/json', body: `{"result":${JSON.stringify(result)}}` }
  }

  /**
   * Encodes outcomes as the request asked: JSON (`{"result"}` / `{"error"}` items, strings as
   * UTF-8 or, with `Upstash-Encoding: base64`, base64), or raw RESP2 with
   * `Upstash-Response-Format: resp2`.
   */
  encode(
    outcomes: Outcome[],
    asArray: boolean,
    format: string | undefined,
    encoding: string | undefined,
  ): EncodedAnswer {
    if (format?.toLowerCase() === 'resp2') {
      return {
        contentType: 'application/octet-stream',
        body: new Uint8Array(Buffer.concat(outcomes.map(toResp2))),
      }
    }
    const base64 = encoding?.toLowerCase() === 'base64'
    // A success item has no `error` key and an error item no `result` key (the client checks both).
    const items = outcomes.map((o) =>
      o.ok ? { result: encodeReply(o.value, base64) } : { error: o.error.message },
    )
    return { contentType: 'application/json', body: JSON.stringify(asArray ? items : items[0]) }
  }

  /** The answer to a failure: its own status for a ProxyHttpError; anything else is a bug, logged with its stack. */
  errorAnswer(error: unknown, requestId: string): ErrorAnswer {
    if (error instanceof ProxyHttpError) {
      return {
        status: error.status,
        body: JSON.stringify({ error: error.message }),
        closeConnection: error.status === 413,
      }
    }
    this.#logger.error({ err: error, reqId: requestId }, 'unhandled error')
    return {
      status: 500,
      body: JSON.stringify({ error: `ERR internal proxy error: ${(error as Error).message}` }),
      closeConnection: false,
    }
  }

  #run<T>(commands: CommandInfo[], work: () => Promise<T>): Promise<T> {
    // Connected, as nearly always: straight to the work, with no await of our own on the way.
    if (this.#upstream.client.status === 'ready') return this.#withDeadline(commands, work)
    return this.#runOnceReady(commands, work)
  }

  async #runOnceReady<T>(commands: CommandInfo[], work: () => Promise<T>): Promise<T> {
    const { readyWaitMs } = this.limits
    if (!(await this.#upstream.whenReady(readyWaitMs))) {
      this.#metrics.upstreamErrors.inc({ kind: 'unreachable' })
      const cause = this.#upstream.lastError()
      throw new ProxyHttpError(
        503,
        `ERR upstream Redis unreachable (not connected within ${readyWaitMs} ms${cause ? `; last error: ${cause}` : ''})`,
      )
    }
    return this.#withDeadline(commands, work)
  }

  #withDeadline<T>(commands: CommandInfo[], work: () => Promise<T>): Promise<T> {
    const { deadlineMs, blocking } = this.limits
    // A blocking command may legitimately wait up to the maximum block time.
    const deadline = commands.some((i) => i.blocking)
      ? Math.max(deadlineMs, blocking.maxBlockMs + 2000)
      : deadlineMs
    return this.#deadlines.race(work(), deadline, () => {
      this.#metrics.upstreamErrors.inc({ kind: 'deadline' })
      return new ProxyHttpError(504, `ERR deadline of ${deadline} ms passed before Redis answered`)
    })
  }
}

/** The metrics label of a request path (bounded: path-style commands share one). */
export function routeLabel(path: string): string {
  if (path === '/' || path === '/pipeline' || path === '/multi-exec' || path === '/monitor') return path
  if (path === '/healthz' || path === '/readyz' || path === '/metrics') return path
  if (path.startsWith('/subscribe/')) return '/subscribe'
  if (path.startsWith('/psubscribe/')) return '/psubscribe'
  return '/<command>' // path style; the command itself is counted in commands_total
}
