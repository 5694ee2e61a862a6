/**
 * `tiercache/lambda`: tiercache for AWS Lambda. `withCache` creates one cache per warm container
 * (outside the handler), hands it to the handler as `context.cache`, caches whole responses of
 * HTTP events (API Gateway REST and HTTP APIs, Function URLs, ALB), and finishes the cache's
 * background work before the handler returns: Lambda freezes the container after the response.
 */
import type { Context } from 'aws-lambda'
import { type Cache, type CacheOptions, createCache, InvalidOptionError } from 'tiercache'
import {
  checkFunction,
  checkOptionNames,
  describeValue,
  type ResponseCacheOptions,
  resolveResponseCacheOptions,
  respondCached,
} from 'tiercache/http'
import { checkDrainOptions, type DrainOptions, type DrainSummary, type Queue, type QueueMessage } from 'tiercache/queue'
import { fromResponse, type HttpEvent, httpEventKind, toRequest, toResponse } from './http-events.js'

export { fromResponse, type HttpEvent, httpEventKind, toRequest, toResponse } from './http-events.js'

/** Options of `withCache`. */
export interface WithCacheOptions {
  /** The cache, or the options to create it with (once, when `withCache` runs: per warm container). */
  cache: Cache | CacheOptions
  /** Whole-response caching of HTTP events (see `ResponseCacheOptions`); `false` turns it off. @default on */
  responses?: Omit<ResponseCacheOptions, 'cache'> | false
}

/** The Lambda context with the cache. */
export type CacheContext = Context & { cache: Cache }

/** A handler that gets the cache in its context. */
export type CachedHandler<E, R> = (event: E, context: CacheContext) => Promise<R> | R

function isCache(value: unknown): value is Cache {
  return typeof (value as Cache | undefined)?.getOrLoad === 'function'
}

/**
 * Wraps a Lambda handler. Non-HTTP events (SQS, schedules...) just get the cache.
 * @throws {InvalidOptionError} at setup, naming a bad option
 * @example
 * export const handler = withCache(async (event, { cache }) => ({
 *   statusCode: 200,
 *   body: JSON.stringify(await cache.getOrLoad('catalog', loadCatalog)),
 * }), { cache: { redis: { url, token } } })
 */
export function withCache<E = unknown, R = unknown>(
  handler: CachedHandler<E, R>,
  options: WithCacheOptions,
): (event: E, context: Context) => Promise<R> {
  checkOptionNames(options, ['cache', 'responses'])
  const cache = isCache(options.cache) ? options.cache : createCache(options.cache)
  const responses =
    options.responses === false ? undefined : resolveResponseCacheOptions({ ...options.responses, cache })
  return async (event, context) => {
    const withCacheContext = Object.assign(Object.create(Object.getPrototypeOf(context ?? {})), context, {
      cache,
    }) as CacheContext
    try {
      const kind = responses && httpEventKind(event)
      if (!kind) return await handler(event, withCacheContext)
      const http = event as HttpEvent
      const response = await respondCached(
        toRequest(http, kind),
        async () => toResponse(await handler(event, withCacheContext), kind),
        responses,
      )
      return (await fromResponse(response, kind, http)) as R
    } finally {
      // The container is frozen once this returns: refreshes and tier-2 writes must be done.
      await cache.settled()
    }
  }
}

/** Options of `withQueueConsumer`: the drain's, and how much of the invocation to keep in reserve. */
export interface QueueConsumerOptions extends Omit<DrainOptions, 'maxMs' | 'signal'> {
  /** Time left unused at the end of the invocation (for the last acks and the return). @default 2000 ms */
  reserveMs?: number
}

/**
 * A Lambda handler (for a schedule, or any trigger) that drains a `tiercache/queue` within the
 * invocation's remaining time, less `reserveMs`, and returns what it did.
 * @example
 * export const handler = withQueueConsumer(queue, async ({ payload }) => send(payload), { group: 'mailers' })
 */
export function withQueueConsumer<T>(
  queue: Queue,
  handler: (message: QueueMessage<T>, context: Context) => unknown,
  options: QueueConsumerOptions = {},
): (event: unknown, context: Context) => Promise<DrainSummary> {
  checkFunction(handler, 'handler')
  const { reserveMs = 2000, ...drain } = options ?? {}
  if (typeof reserveMs !== 'number' || !Number.isFinite(reserveMs) || reserveMs < 0)
    throw new InvalidOptionError('reserveMs', `must be a number ≥ 0, got ${describeValue(reserveMs)}`)
  // Checked now, when the function is set up (a cold start), not at its first invocation.
  checkDrainOptions(drain)
  return async (_event, context) => {
    const remaining = context.getRemainingTimeInMillis()
    const maxMs = Math.max(0, remaining - reserveMs)
    if (maxMs === 0) return { handled: 0, failed: 0, deadLettered: 0, reclaimed: 0 }
    return queue.drain<T>((message) => handler(message, context), { ...drain, maxMs })
  }
}
