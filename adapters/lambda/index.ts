/**
 * `tiercache/lambda`: tiercache for AWS Lambda. `withCache` creates one cache per warm container
 * (outside the handler), hands it to the handler as `context.cache`, caches whole responses of
 * HTTP events (API Gateway REST and HTTP APIs, Function URLs, ALB), and finishes the cache's
 * background work before the handler returns: Lambda freezes the container after the response.
 */
import type { Context } from 'aws-lambda'
import { type Cache, type CacheOptions, createCache } from 'tiercache'
import { type ResponseCacheOptions, resolveResponseCacheOptions, respondCached } from 'tiercache/http'
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
