/**
 * The tier-2 store contract: what the cache needs from any shared store. Entries are encoded
 * envelopes (`tc1:` + JSON with `f` fresh-until and `c` fence); every method is one round trip.
 * Two implementations: the embedded in-memory store and the Upstash REST store.
 * `test/cache/store-contract.ts` runs one suite on both.
 */
import type { SyncKeys } from './sync-scripts.js'

/** What `readOrLock` saw and did. */
export interface ReadOrLock {
  /** The entry's text, when there is one (fresh or not). */
  text: string | undefined
  /** This caller took the key's rebuild lock (the entry was absent or past its fresh time). */
  locked: boolean
  /** The entry's fence number at read time (0 when absent): a fill must present it. */
  fence: number
}

/** One invalidation read from the stream: L1 keys to drop, and tags with their new versions. */
export interface Invalidation {
  keys: string[]
  tags: Record<string, number>
}

/** What `readInvalidations` returns. */
export interface InvalidationBatch {
  /** Where to read from next time. */
  cursor: string
  /** Entries after the cursor were trimmed away (or the stream vanished): L1 must be cleared. */
  reset: boolean
  entries: Invalidation[]
}

/** A shared tier 2. */
export interface TierTwoStore {
  /** Reads several entries in one round trip: the text or undefined for each key, in order. */
  getMany(keys: string[]): Promise<Array<string | undefined>>
  /**
   * Writes an entry (an explicit `set`) with the key's fence bumped past the current entry's, so a
   * fill that read an older fence is refused. The text starts `tc1:{"c":<n>,`; the store replaces n.
   */
  put(key: string, value: string, ttlMs: number): Promise<void>
  /**
   * Reads an entry and, when it is absent or past its fresh time (`now`), tries to take the key's
   * rebuild lock (`token`, held `lockTtlMs`): the fleet-wide single flight, in one round trip.
   * An entry written under an older version of one of `tagVersions` counts as absent.
   */
  readOrLock(
    key: string,
    token: string,
    lockTtlMs: number,
    now: number,
    tagVersions?: Record<string, number>,
  ): Promise<ReadOrLock>
  /**
   * Writes an entry only if the key's fence is still `fence` (compare-on-fence), and releases the
   * rebuild lock held with `token`. Resolves false when the write was refused.
   */
  fill(key: string, value: string, ttlMs: number, fence: number, token: string): Promise<boolean>
  /** Releases the rebuild lock held with `token` (a load failed); false when it was not ours. */
  unlock(key: string, token: string): Promise<boolean>
  /**
   * Replaces each entry by a tombstone with a bumped fence that lives `ttlMs` (delete-after-write):
   * the next reader rebuilds, and a fill that read the old fence is refused. One round trip.
   */
  invalidate(keys: string[], ttlMs: number): Promise<void>
  /** Keeps the rebuild lock held with `token` for `ms` from now (a backoff); false when it was not ours. */
  holdLock(key: string, token: string, ms: number): Promise<boolean>
  /**
   * Appends an invalidation to the capped stream (`bound` entries kept) and bumps the versions of
   * `tags`; one round trip on the coherence slot. A new version is above the tag's last one and at
   * least `now` (the caller's clock, ms), so it also tops versions instances remember from a hash
   * tier 2 has since lost.
   * @returns the new version of each tag, in order
   */
  notify(sync: SyncKeys, bound: number, keys: string[], tags: string[], now: number): Promise<number[]>
  /** Reads up to `count` invalidations after `cursor` ('' for a new instance: start at the end). */
  readInvalidations(sync: SyncKeys, cursor: string, count: number): Promise<InvalidationBatch>
  /** The current versions of tags (0 for a tag never invalidated), in order. */
  tagVersions(sync: SyncKeys, tags: string[]): Promise<number[]>
}

/** Whether a `redis` option is a store (rather than a client or `{ url, token }`): its core methods are there. */
export function isTierTwoStore(value: unknown): value is TierTwoStore {
  const v = value as Partial<TierTwoStore> | null
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.getMany === 'function' &&
    typeof v.readOrLock === 'function' &&
    typeof v.invalidate === 'function'
  )
}
