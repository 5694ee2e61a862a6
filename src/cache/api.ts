/**
 * The cache's public contract: the `Cache` interface and the types around it.
 */
import type { Duration } from '../duration.js'
import type { Guard } from '../guard/guard.js'
import type { CacheStats } from './events.js'
import type { Uncached } from './uncached.js'

/**
 * A loader: the source of truth for one key. `null`/`undefined` means "nothing there" (cached as a
 * null marker); `uncached(value)` answers `value` without caching it.
 */
export type Loader<T> = (
  key: string,
  info: LoadInfo,
) => T | null | undefined | Uncached<T> | Promise<T | null | undefined | Uncached<T>>

/** What a loader is told about its call. */
export interface LoadInfo {
  /**
   * True when the load refreshes a value that is being served meanwhile (stale inside grace, or
   * early by XFetch): it runs in the background, after its caller got the old value.
   */
  refreshing: boolean
}

/** A batch loader for `getMany`: gets the still-missing keys, answers in the same order. */
export type BatchLoader<T> = (
  keys: string[],
) => Promise<Array<T | null | undefined>> | Array<T | null | undefined>

/** Per-call options of writes and loads. */
export interface WriteOptions {
  /**
   * Fresh time of this value (default: the cache's `ttl`). `Infinity` makes a hot key: it never
   * expires from tier 2, and is refreshed in place every `refresh` while its old value is served.
   */
  ttl?: Duration
  /** With `ttl: Infinity`: how often the hot key is refreshed (its logical expiry). */
  refresh?: Duration
  /** Fresh time of a null marker (default: the cache's `nullTtl`). */
  nullTtl?: Duration
  /**
   * Tags of the entry: `invalidateTags` (or a `write` with these tags) makes it stop being served,
   * on every instance, by a version checked on read (no key scan).
   */
  tags?: string[]
  /** A guard that answers "definitely absent" for ids that exist nowhere (the key is the id). */
  guard?: Guard
}

/** Per-call options of `getOrLoad`: the write options, and whether to skip what is cached. */
export interface LoadOptions extends WriteOptions {
  /**
   * Runs the loader even though L1 or tier 2 holds a value (a user asked for fresh data: HTTP's
   * `Cache-Control: no-cache`), still once per key per process (a load of the key already
   * running here is joined, as a miss joins it) and still fenced: its value goes to tier 2 only
   * as a fill under the key's rebuild lock, taken even over a fresh entry, so a write that lands
   * while it loads wins. When another instance holds that lock, the value goes to this instance's
   * L1 only. @default false
   */
  forceFresh?: boolean
}

/** The cache, or a namespace view of it. */
export interface Cache {
  /**
   * L1, then tier 2, then the loader (once per key per process at a time). `null` when the loader
   * found nothing. With `forceFresh`, the loader (see `LoadOptions`).
   */
  getOrLoad<T>(key: string, loader: Loader<T>, options?: LoadOptions): Promise<T | null>
  /** L1, then tier 2: the value, `null` for a null marker, `undefined` when absent. */
  get<T>(key: string): Promise<T | null | undefined>
  /** Writes a value to both tiers (`null` writes a null marker). */
  set<T>(key: string, value: T | null, options?: WriteOptions): Promise<void>
  /**
   * Delete-after-write (cache aside): runs `writer` (the source-of-truth update) first; if it
   * throws, nothing in the cache changes. Then each key becomes a tombstone with a bumped fence in
   * one tier-2 round trip (a reader that loaded before the write cannot put its old value back),
   * then the keys (and `tags`, whose versions are bumped) go to the invalidation stream that every
   * instance's L1 follows, and this instance's L1 drops them at once. A failed invalidation is
   * retried in the background.
   * @returns what `writer` returned
   */
  write<R>(
    keyOrKeys: string | string[],
    writer: () => R | Promise<R>,
    options?: { tags?: string[]; doubleDelete?: Duration },
  ): Promise<R>
  /**
   * Everything written with one of these tags stops being served, on every instance within
   * `maxStaleness`: the tags' versions are bumped (an entry remembers the versions it was loaded
   * under), so no key is scanned.
   */
  invalidateTags(tagOrTags: string | string[]): Promise<void>
  /**
   * Empties a namespace view (`cache.namespace(name).clear()`) by bumping its version: every
   * entry under it, nested namespaces included, stops being served. No KEYS or SCAN.
   * @throws {InvalidOptionError} on the root view, which has no namespace version
   */
  clear(): Promise<void>
  /** Removes keys from both tiers. */
  delete(keyOrKeys: string | string[]): Promise<void>
  /**
   * Many keys: one tier-2 round trip for every L1 miss; `loadMany` gets only the keys still missing
   * that this process is not already loading (those are joined, as `getOrLoad` joins a running load).
   * Without `loadMany`, a missing key answers `undefined`. Batch loads take no fleet-wide rebuild lock.
   */
  getMany<T>(
    keys: string[],
    loadMany?: BatchLoader<T>,
    options?: WriteOptions,
  ): Promise<Array<T | null | undefined>>
  /** A view whose keys are prefixed with `name:` (sharing L1, tier 2 and counters). */
  namespace(name: string): Cache
  /**
   * Synchronous, L1 only: the value, `null` for a null marker, `undefined` when L1 does not have it
   * (or cannot vouch for it: a stream sync is due, and starts in the background).
   */
  peek<T>(key: string): T | null | undefined
  /**
   * Synchronous, L1 only, and counted: what `getOrLoad` answers without I/O (an L1 hit in stats
   * and events), `undefined` when it would need tier 2 or a stream sync (nothing counted then:
   * the caller's `getOrLoad` counts). For servers that answer a hit without an await.
   */
  getFromL1<T>(key: string): T | null | undefined
  /** Counters: hits by tier, misses, loads, null hits, stale served, tier-2 errors, L1 size. */
  stats(): CacheStats
  /** Resolves once background work (tier-2 writes, refreshes) is done: call before a Lambda returns. */
  settled(): Promise<void>
}
