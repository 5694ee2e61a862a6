/**
 * Tier 1's storage: an LRU bounded by entries and by bytes, with a time to live per entry.
 * `createCache` keeps it in lru-cache (`l1-lru-cache.ts`); `createEdgeCache` in a compact LRU of
 * its own (`compact-lru.ts`), for bundles whose size is paid on every cold start.
 */

/** What L1 holds for a key. */
export interface L1Entry {
  value: unknown
  nullMarker: boolean
  size: number
  /** Versions of the entry's tags when it was loaded (undefined: no tags). */
  tags: Record<string, number> | undefined
}

/** Why an entry left L1, as lru-cache names it (`evict` events carry it). */
export type L1DisposeReason = 'evict' | 'set' | 'delete' | 'expire' | 'fetch'

/** The LRU operations the cache uses; lru-cache's `LRUCache` has exactly these. */
export interface L1Store {
  /** The live entry (and it becomes the most recently used), or undefined when absent or expired. */
  get(key: string): L1Entry | undefined
  /** Stores an entry for `ttl` ms, evicting the least recently used past either bound. */
  set(key: string, entry: L1Entry, options: { ttl: number }): unknown
  delete(key: string): boolean
  clear(): void
  /** Entries held. */
  readonly size: number
  /** Bytes held (the sum of the entries' `size`). */
  readonly calculatedSize: number
}

/** How to build an L1 store. */
export interface L1StoreOptions {
  /** Most entries. */
  max: number
  /** Most bytes (an entry larger than this is not kept). */
  maxSize: number
  /** The cache's clock, in milliseconds. */
  now: () => number
  /** The clock is injected (tests): read it on every access, never reuse a reading. */
  exactClock: boolean
  /** Called for every entry that leaves (only when someone listens to events). */
  onDispose: ((key: string, reason: L1DisposeReason) => void) | undefined
}

/** Builds the L1 store of a cache. */
export type L1Factory = (options: L1StoreOptions) => L1Store
