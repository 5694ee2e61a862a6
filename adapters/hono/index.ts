/**
 * `tiercache/hono`: tiercache for Hono apps. `cacheMiddleware` caches whole responses,
 * `cached(options)` does it for one route (as a wrapper or a TC39 method decorator), and
 * `c.var.cache` hands the cache to handlers. Background work (refreshes, tier-2 writes) goes to
 * `c.executionCtx.waitUntil` when the platform has one (Workers, Vercel Edge).
 */
import type { Context, MiddlewareHandler, Next } from 'hono'
import type { Cache } from 'tiercache'
import {
  answerFromL1,
  type HeaderReader,
  type ResolvedResponseCacheOptions,
  type ResponseCacheOptions,
  resolveResponseCacheOptions,
  respondCached,
} from 'tiercache/http'

declare module 'hono' {
  interface ContextVariableMap {
    /** The cache set by `cacheMiddleware` or `cacheContext`. */
    cache: Cache
  }
}

export type { CacheStatus, ResponseCacheOptions } from 'tiercache/http'

/** Options of `cached`: as the middleware's, with the cache taken from `c.var.cache` when absent. */
export type CachedOptions = Omit<ResponseCacheOptions, 'cache'> & { cache?: Cache }

/**
 * Caches whole responses (GET/HEAD and status 200 by default; see `ResponseCacheOptions`), sets
 * `x-cache` (HIT, MISS, STALE, BYPASS), `Server-Timing` and `ETag` (`If-None-Match` → 304), and
 * puts the cache in `c.var.cache` for the handlers behind it (a HIT runs none, and sets nothing).
 * @throws {InvalidOptionError} at setup, naming a bad option
 * @example
 * app.use('/products/*', cacheMiddleware({ cache, ttl: '30s' }))
 */
export function cacheMiddleware(options: ResponseCacheOptions): MiddlewareHandler {
  const resolved = resolveResponseCacheOptions(options)
  const keepAlive = keepAliveFor()
  const outer = outerHeadersFor()
  const produceAndAnswer = async (c: Context, next: Next, header: HeaderReader) => {
    c.set('cache', options.cache)
    const own = outer.read(c, resolved)
    const response = await respondCached(
      c.req.raw,
      async () => {
        await next()
        return outer.strip(c.res, own)
      },
      resolved,
      { header },
    )
    replaceResponse(c, outer.apply(response, own))
    keepAlive(c, options.cache)
  }
  return (c, next) => {
    const header = headerReader(c)
    // An L1 hit answers with no async step of our own. It runs no handler, so it leaves c.var
    // alone: Hono's first c.set builds a Map per request.
    const hit = answerFromL1(c.req.raw, resolved, header)
    if (!hit) return produceAndAnswer(c, next, header)
    keepAlive(c, options.cache)
    if (outer.seen) {
      replaceResponse(c, outer.apply(hit, outer.read(c, resolved)))
      return SETTLED
    }
    // Set as c.res, as Hono's compose would set a returned Response, and answered with a promise
    // already settled: resolving a promise with the Response itself makes V8 look for a `then`
    // up its prototype chain (node-server's Response, then undici's), a generic lookup per hit.
    c.res = hit
    return SETTLED
  }
}

/** What a middleware that answered returns: one promise, settled once. */
const SETTLED: Promise<void> = Promise.resolve()

/** Only puts the cache in `c.var.cache` (for handlers that use it by hand, and for `cached`). */
export function cacheContext(cache: Cache): MiddlewareHandler {
  const keepAlive = keepAliveFor()
  return async (c, next) => {
    c.set('cache', cache)
    await next()
    keepAlive(c, cache)
  }
}

type Handler<This, C extends Context, R extends Response> = (this: This, c: C) => R | Promise<R>

/**
 * Caches one route's responses. Use it as a wrapper, `app.get('/x', cached({ ttl: '1m' })(handler))`,
 * or as a TC39 method decorator on a class-based handler, `@cached({ ttl: '1m' })`.
 * Without `cache`, the cache comes from `c.var.cache` (`cacheContext` or `cacheMiddleware`).
 */
export function cached(options: CachedOptions = {}): CachedRoute {
  const resolvedFor = new WeakMap<Cache, ResolvedResponseCacheOptions>()
  const keepAlive = keepAliveFor()
  const outer = outerHeadersFor()
  // Validate everything but the cache now: a bad option fails at setup, not on the first request.
  resolveResponseCacheOptions({ ...options, cache: options.cache ?? PLACEHOLDER })
  const resolve = (cache: Cache) => {
    let resolved = resolvedFor.get(cache)
    if (!resolved) {
      resolved = resolveResponseCacheOptions({ ...options, cache })
      resolvedFor.set(cache, resolved)
    }
    return resolved
  }
  const wrap = <This, C extends Context, R extends Response>(
    handler: Handler<This, C, R>,
  ): ((this: This, c: C) => R | Promise<R>) =>
    // The answer is the handler's response or one rebuilt from the cache: the same kind of
    // Response, typed as the handler's (Hono's typed responses only add compile-time fields).
    function (this: This, c: C): R | Promise<R> {
      const cache = options.cache ?? c.get('cache')
      if (!cache) {
        throw new Error(
          'tiercache/hono: cached() has no cache: pass { cache }, or use cacheContext(cache) or cacheMiddleware before this route',
        )
      }
      const resolved = resolve(cache)
      const header = headerReader(c)
      // An L1 hit is returned as it is, not in a promise: a route with one handler then takes
      // Hono's and @hono/node-server's synchronous path, which an async function would leave
      // (measured in bench/hono: the wrapped route's HIT against the bare route).
      const hit = answerFromL1(c.req.raw, resolved, header)
      if (hit) {
        keepAlive(c, cache)
        return (outer.seen ? outer.apply(hit, outer.read(c, resolved)) : hit) as R
      }
      const own = outer.read(c, resolved)
      return respondCached(
        c.req.raw,
        async () => outer.strip(await handler.call(this, c), own),
        resolved,
        { header },
      ).then((response) => {
        keepAlive(c, cache)
        return outer.apply(response, own) as R
      })
    }
  return (<This, C extends Context, R extends Response>(
    handler: Handler<This, C, R>,
    decorator?: ClassMethodDecoratorContext<This, Handler<This, C, R>>,
  ) => {
    const wrapped = wrap(handler)
    if (!decorator) return wrapped
    // A decorated method was declared returning a promise (an async method, as a rule): keep it so.
    return async function (this: This, c: C): Promise<R> {
      return wrapped.call(this, c)
    }
  }) as CachedRoute
}

/** `cached(options)`: a wrapper (hits answered synchronously) that is also a TC39 method decorator. */
export interface CachedRoute {
  /** Decorates a class method: the method keeps its promise-returning type. */
  <This, C extends Context, R extends Response>(
    handler: Handler<This, C, R>,
    decorator: ClassMethodDecoratorContext<This, Handler<This, C, R>>,
  ): (this: This, c: C) => Promise<R>
  /** Wraps a handler: an L1 hit is returned as it is, anything else as a promise. */
  <This, C extends Context, R extends Response>(handler: Handler<This, C, R>): (this: This, c: C) => R | Promise<R>
}

/**
 * Reads request headers. On @hono/node-server the Node request is in `c.env.incoming`: its
 * headers are read from `rawHeaders`, the name/value list Node's parser already made, rather than
 * from `incoming.headers`, which Node builds on first use (an object, a case-folded name and a
 * duplicate rule per header; its `_addHeaderLine` showed in CPU profiles of bench/hono's HIT, which
 * reads two headers), or from a Fetch `Headers`, which costs more still. A name sent twice is read from
 * `incoming.headers` after all, so Node's rules for repeated headers apply. Elsewhere, the Fetch
 * request's headers.
 */
function headerReader(c: Context): HeaderReader {
  const incoming = (c.env as { incoming?: NodeIncoming } | undefined)?.incoming
  const raw = incoming?.rawHeaders
  if (Array.isArray(raw)) {
    return (name) => {
      let found: string | undefined
      for (let i = 0; i < raw.length; i += 2) {
        const key = raw[i]!
        if (key.length !== name.length || key.toLowerCase() !== name) continue
        if (found !== undefined) {
          const value = (incoming as NodeIncoming).headers[name]
          return Array.isArray(value) ? value.join(', ') : (value ?? null)
        }
        found = raw[i + 1]!
      }
      return found ?? null
    }
  }
  return (name) => c.req.raw.headers.get(name)
}

/** The parts of Node's IncomingMessage the header reader uses. */
interface NodeIncoming {
  rawHeaders: string[]
  headers: Record<string, string | string[] | undefined>
}

/** A stand-in cache for validating `cached` options before a real one is known. */
const PLACEHOLDER = { getOrLoad: () => {}, namespace: () => PLACEHOLDER } as unknown as Cache

/** Headers that describe the response, its body or whether it may be stored: never taken off it. */
const ABOUT_THE_RESPONSE = /^(content-.*|cache-control|expires|vary|set-cookie|etag|last-modified)$/

/**
 * Headers that middleware before the cache set for this one request, with `c.header()` before
 * `next()` (Hono's `requestId()` sets `X-Request-Id` so) or on `c.res`: they are this request's,
 * not the route's. Stored with the response, every HIT had handed the first request's id to the
 * next callers, and dropped their own. So they are taken off what is stored (where the handler
 * left them as they were) and set on every answer (unless the answer has that header already).
 * Headers about the response itself stay with it (`ABOUT_THE_RESPONSE`): a `Cache-Control: private`,
 * a `Vary` or a `Set-Cookie` set there still keeps it out of the cache, as before.
 *
 * They are read through `c.newResponse(null)`, which builds a Response from them and leaves the
 * context as it was (reading `c.res` would make Hono copy them over the handler's own later).
 * That costs a Response and a Headers, so an L1 hit reads them only once a request through this
 * middleware had some: until then hits stay on their fast path.
 */
function outerHeadersFor() {
  const outer = {
    /** A request through this middleware had headers from middleware before it. */
    seen: false,
    /** This request's own headers; none for a method that is not cached (nothing is stored). */
    read(c: Context, options: ResolvedResponseCacheOptions): Array<[string, string]> {
      const own: Array<[string, string]> = []
      if (!options.methods.has(c.req.method.toUpperCase())) return own
      c.newResponse(null).headers.forEach((value, name) => {
        if (!ABOUT_THE_RESPONSE.test(name)) own.push([name, value])
      })
      if (own.length > 0) outer.seen = true
      return own
    },
    /** The produced response without this request's own headers, where the handler kept them. */
    strip: (response: Response, own: Array<[string, string]>): Response =>
      editHeaders(response, own, (headers, name, value) => {
        if (headers.get(name) === value) headers.delete(name)
      }),
    /** The answer with this request's own headers set where it has none of that name. */
    apply: (response: Response, own: Array<[string, string]>): Response =>
      editHeaders(response, own, (headers, name, value) => {
        if (!headers.has(name)) headers.set(name, value)
      }),
  }
  return outer
}

/**
 * Edits a response's headers for each of `own`, on a copy when they are immutable (a `fetch()`
 * response). With none it leaves the response alone: on @hono/node-server, reading `headers`
 * turns a response's plain header object into a Headers, off its fast path.
 */
function editHeaders(
  response: Response,
  own: Array<[string, string]>,
  edit: (headers: Headers, name: string, value: string) => void,
): Response {
  if (own.length === 0) return response
  try {
    for (const [name, value] of own) edit(response.headers, name, value)
    return response
  } catch {
    // Immutable headers: the first write threw, so the copy gets every edit.
    const copy = new Response(response.body, response)
    for (const [name, value] of own) edit(copy.headers, name, value)
    return copy
  }
}

/** Sets the answer without Hono copying the produced response's headers onto it. */
function replaceResponse(c: Context, response: Response): void {
  if (response === c.res) return
  c.res = undefined
  c.res = response
}

/**
 * Hands the cache's background work to the platform so it is not cut off after the response.
 * Hono's `executionCtx` getter throws when there is none (Node), and building that Error on every
 * request cost 5 % of a cached answer: each middleware asks on its first request and remembers.
 */
function keepAliveFor(): (c: Context, cache: Cache) => void {
  let hasExecutionContext: boolean | undefined
  return (c, cache) => {
    if (hasExecutionContext === false) return
    let waitUntil: ((promise: Promise<unknown>) => void) | undefined
    try {
      const ctx = c.executionCtx
      waitUntil = ctx.waitUntil.bind(ctx)
      hasExecutionContext = true
    } catch {
      hasExecutionContext ??= false
      return // Node: no execution context, and the process outlives the response anyway
    }
    waitUntil(cache.settled())
  }
}
