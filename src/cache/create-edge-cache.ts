/**
 * `createEdgeCache`: the same cache for edge bundles (Workers, Vercel Edge), where every kilobyte
 * is paid on each cold start: L1 in the compact LRU (`compact-lru.ts`, about 0.3 KB gzipped
 * against lru-cache's 5.5), and no built-in tier 2 in memory. In an isolate such a store shares
 * nothing that L1 does not, and as a default it would be in every bundle (0.7 KB gzipped,
 * measured with the Worker example): pass `new MemoryStore()` for tests and local runs.
 */
import { InvalidOptionError } from '../errors.js'
import type { Cache } from './api.js'
import { buildCache } from './cache.js'
import { compactL1 } from './compact-lru.js'
import type { CacheOptions } from './options.js'

/** Options of `createEdgeCache`: `createCache`'s, with tier 2 required. */
export type EdgeCacheOptions = CacheOptions & { redis: NonNullable<CacheOptions['redis']> }

/**
 * Creates a cache for an edge bundle: `createCache` with the compact L1 instead of lru-cache (the
 * same options, the same behaviour; one test suite runs against both LRUs), tier 2 required.
 * @throws {InvalidOptionError} naming the first bad option, or `redis` when it is missing
 * @example
 * const cache = createEdgeCache({ redis: { url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN } })
 */
export function createEdgeCache(options: EdgeCacheOptions): Cache {
  return buildCache(options, compactL1, () => {
    throw new InvalidOptionError(
      'redis',
      'createEdgeCache needs a tier 2: { url, token }, an @upstash/redis client, or new MemoryStore() (tests, local runs)',
    )
  })
}
