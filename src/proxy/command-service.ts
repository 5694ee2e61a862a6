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

/**
 * A callback called exactly once: `(undefined, value)` on success, `(error)` on failure (never
 * with an undefined error: a rejection without a reason is given one).
 */
export type Done<T> = (error: unknown, value?: T) => void

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
  single(grant: Grant, command: CommandArgs): Promise<unknown> {
    return new Promise((resolve, reject) =>
      this.singleThen(grant, command, (error, value) =>
        error === undefined ? resolve(value) : reject(error),
      ),
    )
  }

  /**
   * `single` with a callback, called exactly once: `(undefined, reply)` or `(error)` with the
   * error `single` rejects with. The node:http fast path runs commands this way: the promises and
   * async frames of the promise forms were about 2 of the 15 KB of garbage a single command made.
   */
  singleThen(grant: Grant, command: CommandArgs, done: Done<unknown>): void {
    let infos: CommandInfo[]
    try {
      infos = this.prepare(grant, [command])
    } catch (error) {
      done(error)
      return
    }
    const info = infos[0]!
    if (this.#upstream.client.status !== 'ready') {
      // (Re)connecting: rare, so the promise form is fine here.
      this.#runOnceReady(infos, () => this.#executor.run(command, info)).then(
        (value) => done(undefined, value),
        (error: unknown) => done(this.#singleFailure(error)),
      )
      return
    }
    const deadline = this.#deadlineOf(infos)
    let finished = false
    const expire = () => {
      finished = true
      done(this.#expired(deadline))
    }
    const filing = this.#deadlines.file(deadline, expire)
    const settle = (error: unknown, value?: unknown) => {
      if (finished) return // answered 504 already
      finished = true
      this.#deadlines.withdraw(filing, expire)
      done(error === undefined ? undefined : this.#singleFailure(error), value)
    }
    let work: Promise<unknown>
    try {
      work = this.#executor.run(command, info)
    } catch (error) {
      settle(error ?? new Error('the command failed without a reason'))
      return
    }
    work.then(
      (value) => settle(undefined, value),
      (error: unknown) => settle(error ?? new Error('the command failed without a reason')),
    )
  }

  /** What a failure of one command is to the client: Redis's own error 400, the rest 503 (or as they are). */
  #singleFailure(error: unknown): ProxyHttpError {
    if (error instanceof ProxyHttpError) return error
    if (isRedisReply(error as Error))
      return new ProxyHttpError(400, (error as Error).message, { cause: error })
    this.#metrics.upstreamErrors.inc({ kind: 'unavailable' })
    return new ProxyHttpError(503, `ERR upstream Redis unavailable: ${(error as Error).message}`, {
      cause: error,
    })
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
  answerBody(
    grant: Grant,
    route: '/' | '/pipeline' | '/multi-exec',
    text: string,
    format: string | undefined,
    encoding: string | undefined,
  ): Promise<EncodedAnswer> {
    return new Promise((resolve, reject) =>
      this.answerBodyThen(grant, route, text, format, encoding, (error, answer) =>
        error === undefined ? resolve(answer as EncodedAnswer) : reject(error),
      ),
    )
  }

  /**
   * `answerBody` with a callback, called exactly once: `(undefined, answer)` or `(error)`. The
   * node:http fast path answers this way (see `singleThen`).
   */
  answerBodyThen(
    grant: Grant,
    route: '/' | '/pipeline' | '/multi-exec',
    text: string,
    format: string | undefined,
    encoding: string | undefined,
    done: Done<EncodedAnswer>,
  ): void {
    let body: unknown
    let commands: CommandArgs[] | undefined
    let command: CommandArgs | undefined
    try {
      body = parseJson(text)
      if (route === '/') command = toCommand(body)
      else commands = toCommandList(body, this.limits.maxCommands)
    } catch (error) {
      done(error)
      return
    }
    if (command) {
      this.answerCommandThen(grant, command, format, encoding, done)
      return
    }
    this.many(grant, route === '/pipeline' ? 'pipeline' : 'multi-exec', commands as CommandArgs[]).then(
      (outcomes) => answerWith(done, () => this.encode(outcomes, true, format, encoding)),
      (error: unknown) => done(error ?? new Error('the pipeline failed without a reason')),
    )
  }

  /**
   * Runs one command and encodes its reply as `encodeOne` does; `done` is called exactly once,
   * `(undefined, answer)` or `(error)`. `POST /` and path-style requests answer through it.
   */
  answerCommandThen(
    grant: Grant,
    command: CommandArgs,
    format: string | undefined,
    encoding: string | undefined,
    done: Done<EncodedAnswer>,
  ): void {
    this.singleThen(grant, command, (error, value) =>
      error !== undefined ? done(error) : answerWith(done, () => this.encodeOne(value, format, encoding)),
    )
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
    const deadline = this.#deadlineOf(commands)
    return this.#deadlines.race(work(), deadline, () => this.#expired(deadline))
  }

  /** The deadline of a request in ms: a blocking command may legitimately wait up to the maximum block time. */
  #deadlineOf(commands: CommandInfo[]): number {
    const { deadlineMs, blocking } = this.limits
    for (const info of commands) if (info.blocking) return Math.max(deadlineMs, blocking.maxBlockMs + 2000)
    return deadlineMs
  }

  /** The 504 of a request whose deadline passed (counted). */
  #expired(deadline: number): ProxyHttpError {
    this.#metrics.upstreamErrors.inc({ kind: 'deadline' })
    return new ProxyHttpError(504, `ERR deadline of ${deadline} ms passed before Redis answered`)
  }
}

/** Calls `done` with what `encode` returns, or with what it throws (never both, and `done` outside the try). */
function answerWith(done: Done<EncodedAnswer>, encode: () => EncodedAnswer): void {
  let answer: EncodedAnswer
  try {
    answer = encode()
  } catch (error) {
    done(error)
    return
  }
  done(undefined, answer)
}

/** The metrics label of a request path (bounded: path-style commands share one). */
export function routeLabel(path: string): string {
  if (path === '/' || path === '/pipeline' || path === '/multi-exec' || path === '/monitor') return path
  if (path === '/healthz' || path === '/readyz' || path === '/metrics') return path
  if (path.startsWith('/subscribe/')) return '/subscribe'
  if (path.startsWith('/psubscribe/')) return '/psubscribe'
  return '/<command>' // path style; the command itself is counted in commands_total
}
