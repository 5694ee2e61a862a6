/**
 * What the cache reports, as typed events (for metrics, logs or traces, exported by whoever
 * listens). Nothing is built when no `onEvent` is set.
 */
import type { CircuitState } from './circuit-breaker.js'

/** Every event the cache emits. */
export type CacheEvent =
  /** A value (or null marker) was served from a tier. */
  | { type: 'hit'; key: string; tier: 'l1' | 'l2'; nullMarker: boolean }
  /** Neither tier had the key. */
  | { type: 'miss'; key: string }
  /** A loader ran and succeeded. */
  | { type: 'load'; key: string; ms: number; found: boolean }
  /** A loader failed; the error went to the caller and nothing was cached. */
  | { type: 'loadError'; key: string; error: unknown }
  /** A value past its fresh time (inside grace) was served while it is refreshed. */
  | { type: 'stale'; key: string }
  /** A key was refused by the `validate` hook without touching anything. */
  | { type: 'rejected'; key: string }
  /** Tier 2 failed or timed out; the cache carried on without it. */
  | {
      type: 'l2Error'
      operation: 'get' | 'set' | 'delete' | 'sync' | 'guardLoad' | 'guardAdd'
      error: unknown
    }
  /** A guard answered "definitely absent": null without tier 2 or the loader. */
  | { type: 'guarded'; key: string; guard: string }
  /** A guard holds more ids than its design load: false positives exceed its rate; rebuild it larger. */
  | { type: 'guardOverloaded'; guard: string; estimatedCount: number; expected: number }
  /** The tier-2 circuit breaker changed state. */
  | { type: 'circuit'; state: CircuitState }
  /** Another instance holds the key's rebuild lock: this caller waits for its fill. */
  | { type: 'rebuildWait'; key: string }
  /** The wait for another instance's fill ran out (then the loader runs, or it throws). */
  | { type: 'rebuildWaitTimeout'; key: string }
  /** XFetch decided to refresh a fresh value early. */
  | { type: 'earlyRefresh'; key: string }
  /** A fill was refused: the key's fence moved while it was loaded (its value would be older). */
  | { type: 'fillRefused'; key: string }
  /**
   * Owed invalidations were retried (after 1 s, 5 s, then every 30 s) until tier 2 took them;
   * `attempt` counts the retries in a row, 1 again after one that succeeded.
   */
  | { type: 'invalidationRetry'; attempt: number; succeeded: boolean }
  /** A read of the invalidation stream dropped L1 keys (`reset`: the cursor fell behind, L1 was cleared). */
  | { type: 'sync'; dropped: number; reset: boolean }
  /** L1 dropped an entry (`evict`: the bounds; `expire`: its TTL; `delete`, `set`: replaced or removed). */
  | { type: 'evict'; key: string; reason: string }

/** Counters `cache.stats()` returns. */
export interface CacheStats {
  hits: { l1: number; l2: number }
  misses: number
  loads: number
  loadErrors: number
  nullHits: number
  staleServed: number
  rejected: number
  /** Reads answered "definitely absent" by a guard. */
  guarded: number
  l2Errors: number
  /** Misses that waited for another instance's rebuild instead of loading. */
  rebuildWaits: number
  rebuildWaitTimeouts: number
  fillsRefused: number
  /** Loads answered with `uncached(value)`: returned, not stored. */
  uncached: number
  /** Invalidation-stream reads, L1 keys they dropped, and L1 clears (the cursor fell behind the trimmed stream). */
  sync: { reads: number; dropped: number; resets: number }
  /**
   * Invalidations waiting for tier 2 to come back: with `createCache`, the keys and tags owed
   * (each once, however often written); with `createEdgeCache`, the failed invalidations.
   */
  pendingInvalidations: number
  /** Refreshes started early by XFetch. */
  earlyRefreshes: number
  /** Background refreshes whose loader failed (the stale value kept being served). */
  refreshErrors: number
  circuit: CircuitState
  l1: { entries: number; bytes: number }
}
