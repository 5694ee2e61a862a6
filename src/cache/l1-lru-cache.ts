/**
 * The L1 store of `createCache`: lru-cache, the field's standard in-process LRU (bounded by entries
 * and bytes, a TTL per entry, allocation-free hits on typed-array links).
 */
import { LRUCache } from 'lru-cache'
import type { L1DisposeReason, L1Entry, L1Factory } from './l1-store.js'

/** lru-cache as tier 1. */
export const lruCacheL1: L1Factory = ({ max, maxSize, now, exactClock, onDispose }) =>
  new LRUCache<string, L1Entry>({
    max,
    maxSize,
    sizeCalculation: (entry) => entry.size,
    // L1 expiry follows the cache's clock, like everything else. With an injected clock every
    // read asks it (ttlResolution 0: tests move time between two reads in one tick); with the
    // real clock lru-cache's default reuses a reading for 1 ms, which keeps clock reads off the hit path.
    perf: { now },
    ...(exactClock ? { ttlResolution: 0 } : {}),
    // Only pay for disposal callbacks when someone listens.
    ...(onDispose
      ? { dispose: (_entry: L1Entry, key: string, reason: L1DisposeReason) => onDispose(key, reason) }
      : {}),
  })
