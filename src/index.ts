/**
 * tiercache: a two-tier cache for serverless functions (in-process LRU in front of Redis over
 * HTTP). Runs on Node, Lambda, Workers and Vercel Edge; the proxy lives at `tiercache/proxy`.
 */
export type { BatchLoader, Cache, Loader, LoadInfo, LoadOptions, WriteOptions } from './cache/api.js'
export { MAX_KEY_LENGTH } from './cache/cache.js'
export type { CircuitState } from './cache/circuit-breaker.js'
export { createCache } from './cache/create-cache.js'
export { createEdgeCache, type EdgeCacheOptions } from './cache/create-edge-cache.js'
export type { CacheEvent, CacheStats } from './cache/events.js'
export { MemoryStore } from './cache/memory-store.js'
export type { CacheOptions, Clock } from './cache/options.js'
export type { TierTwoStore } from './cache/store.js'
export { Uncached, uncached } from './cache/uncached.js'
export { type RedisConnection, UpstashStore } from './cache/upstash-store.js'
export { type Duration, type DurationUnit, parseDuration } from './duration.js'
export {
  InvalidKeyError,
  InvalidOptionError,
  LoaderError,
  LockLostError,
  LockTimeoutError,
  RebuildTimeoutError,
  TiercacheError,
  UnserializableValueError,
} from './errors.js'
export type { Guard, GuardOptions, GuardStats } from './guard/guard.js' // createGuard: tiercache/guard
export {
  type AcquireOptions,
  createLock,
  type Lock,
  type LockConnection,
  type LockContext,
  type LockHandle,
  type LockOptions,
} from './lock/lock.js'
