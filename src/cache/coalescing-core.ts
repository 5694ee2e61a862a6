/**
 * The cache core `createCache` uses: invalidations that tier 2 did not take are owed per key and
 * per tag, and retried together, instead of one timer per failed write (the edge cache's way).
 *
 * Why: during a tier-2 outage a process serving writes kept a timer and a closure per write
 * (690 B each, measured: 100,000 writes of 1,000 keys held 69 MB), and when tier 2 came back every
 * one of them fired at it, tombstoning the same keys again and again. Owed as sets, a key written
 * a thousand times is owed once (one tombstone after the outage supersedes every earlier one), and
 * the retries go out in batches small enough for tier 2's body limit and timeout.
 */
import { CacheCore, INVALIDATION_RETRY_MS } from './core.js'

/** Keys (and, apart, tags) one retry sends at most: well inside `timeouts.l2` on loopback. */
export const RETRY_BATCH = 500

/** A cache core whose owed invalidations are coalesced (see the module's comment). */
export class CoalescingCacheCore extends CacheCore {
  readonly #owed = { keys: new Set<string>(), tags: new Set<string>() }
  /** The one retry timer; it stays set while its retry is in flight. */
  #timer: ReturnType<typeof setTimeout> | undefined
  /** Retries in a row that tier 2 did not take (the backoff's step). */
  #failures = 0

  /**
   * Adds to what is owed and makes sure a retry is coming (after 1 s, 5 s, then 30 s by the
   * failures in a row). A write that fails while a retry is in flight only adds to the sets: the
   * retry, done, schedules the next.
   */
  override owe(keys: string[], tags: string[]): void {
    for (const key of keys) this.#owed.keys.add(key)
    for (const tag of tags) this.#owed.tags.add(tag)
    const delayMs = INVALIDATION_RETRY_MS[Math.min(this.#failures, INVALIDATION_RETRY_MS.length - 1)]!
    this.#timer ??= this.#retryAfter(delayMs)
  }

  /**
   * The one retry timer. Its retry takes a batch out of the sets and puts back what did not land,
   * so a key owed again meanwhile stays owed; after a batch that landed the next goes at once.
   */
  #retryAfter(delayMs: number): ReturnType<typeof setTimeout> {
    const timer = setTimeout(async () => {
      const keys = take(this.#owed.keys)
      const tags = take(this.#owed.tags)
      const done = (await this.invalidateNow(keys, tags)) === true
      const attempt = this.#failures + 1
      this.#failures = done ? 0 : attempt
      this.emit(() => ({ type: 'invalidationRetry', attempt, succeeded: done }))
      this.#timer = undefined
      if (!done) {
        this.sync.forget(tags)
        this.owe(keys, tags)
      } else if (this.pendingInvalidations > 0) {
        this.#timer = this.#retryAfter(0)
      }
    }, delayMs)
    // A retry must not keep a finished process alive.
    timer.unref?.()
    return timer
  }

  /** Keys and tags whose invalidation is still waiting for tier 2 (a batch in flight excluded). */
  override get pendingInvalidations(): number {
    return this.#owed.keys.size + this.#owed.tags.size
  }
}

/** Takes up to `RETRY_BATCH` members out of a set, oldest first. */
function take(set: Set<string>): string[] {
  const taken: string[] = []
  for (const member of set) {
    if (taken.length === RETRY_BATCH) break
    taken.push(member)
    set.delete(member)
  }
  return taken
}
