/** `createCache`: the cache for Node, Lambda and anywhere bundle size is not the constraint. */
import type { Cache } from './api.js'
import { buildCache } from './cache.js'
import { CoalescingCacheCore } from './coalescing-core.js'
import { lruCacheL1 } from './l1-lru-cache.js'
import { MemoryStore } from './memory-store.js'
import type { CacheOptions } from './options.js'

/**
 * Creates a cache: L1 in lru-cache; tier 2 from `redis` (Upstash REST credentials or a store), or
 * the embedded in-memory store when `redis` is not given.
 * @throws {InvalidOptionError} naming the first bad option
 * @example
 * const cache = createCache({ redis: { url, token }, namespace: 'app', ttl: '10m' })
 * const user = await cache.getOrLoad(`user:${id}`, () => db.users.find(id))
 */
export function createCache(options: CacheOptions = {}): Cache {
  return buildCache(options, lruCacheL1, (now) => new MemoryStore(now), CoalescingCacheCore)
}
