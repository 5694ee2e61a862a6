/**
 * `tiercache/edge`: tiercache for fetch-style edge runtimes. `withCache({ fetch })` wraps a
 * Cloudflare Worker (the cache is created once per isolate from the Worker's env, background work
 * goes to `ctx.waitUntil`); `cacheFetch(handler, options)` wraps any `(request, ctx?) => Response`
 * handler (Vercel Edge middleware and functions, Deno, Bun) with `waitUntil` passed in.
 * No Node-only API is used here or in what it imports.
 */
import {
  type Cache,
  type CacheOptions,
  createEdgeCache,
  type EdgeCacheOptions,
  InvalidOptionError,
  type TierTwoStore,
} from 'tiercache'
import {
  checkFunction,
  checkOptionNames,
  type ResolvedResponseCacheOptions,
  type ResponseCacheOptions,
  resolveResponseCacheOptions,
  respondCached,
} from 'tiercache/http'

/** What a platform offers for work that outlives the response (Workers' `ExecutionContext`). */
export interface WaitUntil {
  waitUntil(promise: Promise<unknown>): void
}

/** Response caching options, without the cache (the wrapper owns it). */
export type EdgeResponseOptions = Omit<ResponseCacheOptions, 'cache' | 'refresh'>

/** Where the Upstash REST credentials live in a Worker's env. */
export interface UpstashEnv {
  UPSTASH_REDIS_REST_URL?: string
  UPSTASH_REDIS_REST_TOKEN?: string
}

/**
 * The tier-2 connection from a Worker's env (`UPSTASH_REDIS_REST_URL`, `UPSTASH_REDIS_REST_TOKEN`).
 * @throws {InvalidOptionError} naming what is missing, with the command that sets it
 */
export function fromEnv(env: unknown): { url: string; token: string } {
  const e = (env ?? {}) as UpstashEnv
  const missing = (['UPSTASH_REDIS_REST_URL', 'UPSTASH_REDIS_REST_TOKEN'] as const).filter(
    (name) => typeof e[name] !== 'string' || e[name] === '',
  )
  if (missing.length > 0) {
    throw new InvalidOptionError(
      'env',
      `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set: ${missing
        .map((name) => `\`wrangler secret put ${name}\``)
        .join(', ')} (or a [vars] entry in wrangler.toml, or --var ${missing[0]}:... with wrangler dev)`,
    )
  }
  return { url: e.UPSTASH_REDIS_REST_URL!, token: e.UPSTASH_REDIS_REST_TOKEN! }
}

/** A Worker's fetch handler; its context also carries the cache. */
export type WorkerFetch<Env> = (
  request: Request,
  env: Env,
  ctx: WaitUntil & { cache: Cache },
) => Response | Promise<Response>

/** Options of `withCache` for Workers. */
export interface WorkerCacheOptions<Env> {
  /**
   * The cache options (tier 2 defaults to `fromEnv(env)`), or a function of the env that returns
   * the cache. Either way it is created once per isolate, on the first request.
   */
  cache?: Omit<CacheOptions, 'waitUntil'> | ((env: Env) => Cache)
  /** Whole-response caching (GET/HEAD, 200 by default); `false` turns it off. @default on */
  responses?: EdgeResponseOptions | false
}

/** A stand-in tier 2 for checking a Worker's cache options at setup, before its env is known: never called. */
const PROBE_STORE = { getMany() {}, readOrLock() {}, invalidate() {} } as unknown as TierTwoStore

/**
 * Wraps a Cloudflare Worker: `export default withCache({ fetch(request, env, ctx) { ... } })`.
 * Stale responses are refreshed in the background through the same fetch handler.
 */
export function withCache<Env = UpstashEnv>(
  worker: { fetch: WorkerFetch<Env> },
  options: WorkerCacheOptions<Env> = {},
): { fetch(request: Request, env: Env, ctx: WaitUntil): Promise<Response> } {
  checkFunction((worker as { fetch?: unknown } | undefined)?.fetch, 'fetch')
  checkOptionNames(options, ['cache', 'responses'])
  // Bad options fail at setup (the deploy, `wrangler dev`), not as the first request's 500: the
  // cache's are checked by making one without tier 2 (no I/O), the responses' against it (or
  // against such a cache when the cache comes from a function of the env).
  const ownCache = typeof options.cache !== 'function'
  const probe = createEdgeCache({ redis: PROBE_STORE, ...(ownCache ? options.cache : {}) })
  if (options.responses !== false) resolveResponseCacheOptions({ ...options.responses, cache: probe })
  let cache: Cache | undefined
  let resolved: ResolvedResponseCacheOptions | undefined
  const setup = (env: Env) => {
    if (!cache) {
      cache =
        typeof options.cache === 'function'
          ? options.cache(env)
          : createEdgeCache({ redis: fromEnv(env), ...options.cache })
      if (options.responses !== false) resolved = resolveResponseCacheOptions({ ...options.responses, cache })
    }
    return cache
  }
  return {
    async fetch(request, env, ctx) {
      const cache = setup(env)
      const withCacheCtx = { waitUntil: (p: Promise<unknown>) => ctx.waitUntil(p), cache }
      const run = (r: Request) => worker.fetch(r, env, withCacheCtx)
      try {
        if (!resolved) return await run(request)
        return await respondCached(request, () => run(request), resolved, { refresh: run })
      } finally {
        ctx.waitUntil(cache.settled())
      }
    },
  }
}

/** A fetch-style handler (Vercel Edge, Deno, Bun); its context carries the cache. */
export type FetchHandler = (
  request: Request,
  ctx: { cache: Cache; waitUntil?: (promise: Promise<unknown>) => void },
) => Response | Promise<Response>

/** Options of `cacheFetch`. */
export interface FetchCacheOptions {
  /**
   * The cache, or the options to create it with (once, when `cacheFetch` runs; tier 2 required:
   * `{ url, token }`, a client, or `new MemoryStore()` for tests and local runs).
   */
  cache: Cache | EdgeCacheOptions
  /** Whole-response caching (GET/HEAD, 200 by default); `false` turns it off. @default on */
  responses?: EdgeResponseOptions | false
}

/**
 * Wraps a `(request, ctx?) => Response` handler. Pass the platform's `waitUntil` in the second
 * argument when calling it (Vercel: the middleware's `context.waitUntil`), so refreshes and
 * tier-2 writes finish after the response.
 * @throws {InvalidOptionError} at setup, naming a bad option
 */
export function cacheFetch(
  handler: FetchHandler,
  options: FetchCacheOptions,
): (request: Request, ctx?: Partial<WaitUntil>) => Promise<Response> {
  checkFunction(handler, 'handler')
  checkOptionNames(options, ['cache', 'responses'])
  const given = options.cache as Partial<Cache> | undefined
  if (typeof given !== 'object' || given === null)
    throw new InvalidOptionError('cache', 'must be a cache or its options ({ redis: { url, token } })')
  const cache = typeof given.getOrLoad === 'function' ? (given as Cache) : createEdgeCache(given as EdgeCacheOptions)
  const resolved =
    options.responses === false ? undefined : resolveResponseCacheOptions({ ...options.responses, cache })
  return async (request, ctx) => {
    const waitUntil = ctx?.waitUntil?.bind(ctx)
    const run = (r: Request) => handler(r, { cache, ...(waitUntil ? { waitUntil } : {}) })
    try {
      if (!resolved) return await run(request)
      return await respondCached(request, () => run(request), resolved, { refresh: waitUntil ? run : undefined })
    } finally {
      if (waitUntil) waitUntil(cache.settled())
    }
  }
}
