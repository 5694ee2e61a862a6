/**
 * `createEdgeCache`: the same cache for edge bundles (Workers, Vercel Edge), where every kilobyte
 * is paid on each cold start: L1 in the compact LRU (`compact-lru.ts`, about 0.3 KB gzipped
 * against lru-cache's 5.5).
 */
import type { Cache } from './api.js'
import { buildCache } from './cache.js'
import { compactL1 } from './compact-lru.js'
import { MemoryStore } from './memory-store.js'
import type { CacheOptions } from './options.js'

/**
 * Creates a cache for an edge bundle: `createCache` with the compact L1 instead of lru-cache (the
 * same options, the same behaviour; one test suite runs against both LRUs).
 * @throws {InvalidOptionError} naming the first bad option
 * @example
 * const cache = createEdgeCache({ redis: { url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN } })
 */
export function createEdgeCache(options: CacheOptions = {}): Cache {
  return buildCache(options, compactL1, (now) => new MemoryStore(now))
}
