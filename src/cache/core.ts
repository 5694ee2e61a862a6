/**
 * What every namespace view of one cache shares: L1, the tier-2 store behind its timeout and
 * circuit breaker, in-process single flight, background work, counters and events.
 */
import { sleep } from '../backoff.js'
import { CircuitBreaker, isRefusal } from './circuit-breaker.js'
import { type Envelope, encodeEnvelope, utf8Length } from './envelope.js'
import type { CacheEvent, CacheStats } from './events.js'
import { jittered } from './jitter.js'
import type { L1Factory, L1Store } from './l1-store.js'
import { L1Sync, OWN_WRITE } from './l1-sync.js'
import type { ResolvedOptions } from './options.js'
import { SingleFlight } from './single-flight.js'
import type { TierTwoStore } from './store.js'
import { syncKeys } from './sync-scripts.js'

/** One L1 entry: the decoded value (shared by reference with callers) and its encoded size. */

/** Delays between retries of an invalidation that failed (the last repeats). */
export const INVALIDATION_RETRY_MS = [1000, 5000, 30_000]

/** A tier-2 call that took longer than `timeouts.l2`. */
class TierTwoTimeout extends Error {
  constructor(ms: number) {
    super(`tier 2 did not answer within ${ms} ms`)
    this.name = 'TierTwoTimeout'
  }
}

/** Shared state and tier plumbing; the public API lives in `cache.ts`. */
export class CacheCore {
  readonly l1: L1Store
  readonly flights = new SingleFlight<unknown>()
  readonly breaker: CircuitBreaker
  readonly counters = {
    l1Hits: 0,
    l2Hits: 0,
    misses: 0,
    loads: 0,
    loadErrors: 0,
    nullHits: 0,
    staleServed: 0,
    rejected: 0,
    guarded: 0,
    l2Errors: 0,
    rebuildWaits: 0,
    rebuildWaitTimeouts: 0,
    fillsRefused: 0,
    syncDrops: 0,
    uncached: 0,
    syncResets: 0,
    earlyRefreshes: 0,
    refreshErrors: 0,
  }
  readonly #pending = new Set<Promise<unknown>>()

  /** This instance's cursor on the invalidation stream, and the tag versions it knows. */
  readonly sync: L1Sync

  /**
   * @param shared whether other instances can write this tier 2 (false for the cache's private
   *   in-memory store: no stream to read)
   * @param l1 builds tier 1's LRU (lru-cache, or the compact one for edge bundles)
   */
  constructor(
    readonly options: ResolvedOptions,
    readonly store: TierTwoStore,
    shared: boolean,
    l1: L1Factory,
  ) {
    const { onEvent } = options
    this.l1 = l1({
      max: options.l1Max,
      maxSize: options.l1MaxSize,
      now: options.now,
      exactClock: options.clockInjected,
      onDispose: onEvent ? (key, reason) => onEvent({ type: 'evict', key, reason }) : undefined,
    })
    this.breaker = new CircuitBreaker(
      options.breakerFailures,
      options.breakerCooldownMs,
      options.now,
      (state) => onEvent?.({ type: 'circuit', state }),
    )
    this.sync = new L1Sync({
      store,
      keys: syncKeys(options.prefix),
      l1: this.l1,
      now: options.now,
      maxStalenessMs: options.maxStalenessMs,
      batch: options.syncReadCount,
      shared,
      tierTwo: (call) => this.tierTwo('sync', call),
      onSync: (dropped, reset) => {
        this.counters.syncDrops += dropped
        if (reset) this.counters.syncResets++
        this.emit(() => ({ type: 'sync', dropped, reset }))
      },
    })
  }

  /** Retry timers of invalidations waiting for tier 2 (`owe`, as the edge cache keeps them). */
  readonly #retries = new Set<ReturnType<typeof setTimeout>>()

  /**
   * Delete-after-write: tombstones the keys in tier 2 (bumped fences, one round trip), then
   * appends them and the tags to the invalidation stream (bumping the tags' versions), and drops
   * them from this instance's L1. If tier 2 is away the L1 copies go at once (and the tags stop
   * being served here) and the keys and tags are owed (`owe`): retried in the background while
   * the process lives. A second invalidation follows after `doubleDeleteMs`.
   */
  async invalidate(keys: string[], doubleDeleteMs: number | undefined, tags: string[] = []): Promise<void> {
    const done = await this.invalidateNow(keys, tags)
    this.sync.dropLocally(keys)
    this.flights.forget(keys)
    if (done !== true) {
      this.sync.forget(tags)
      this.owe(keys, tags)
    }
    if (doubleDeleteMs !== undefined) {
      this.background(
        sleep(doubleDeleteMs).then(
          async () => (await this.invalidateNow(keys, tags)) ?? this.owe(keys, tags),
        ),
      )
    }
  }

  /**
   * One invalidation attempt: true once tier 2 took it.
   *
   * Two round trips, in order, not one pipeline: a pipeline's commands for different slots run on
   * their nodes in parallel, and a stream entry visible before its tombstone would let another
   * instance sync, read the old value from tier 2, and keep it in L1 past the entry.
   */
  invalidateNow(keys: string[], tags: string[]): Promise<true | undefined> {
    return this.tierTwo('delete', async () => {
      if (keys.length > 0)
        await this.store.invalidate(
          keys.map((k) => this.tierKey(k)),
          this.options.tombstoneTtlMs,
        )
      this.sync.bumped(
        tags,
        await this.store.notify(this.sync.keys, this.options.streamMaxLength, keys, tags, this.options.now()),
      )
      return true as const
    })
  }

  /**
   * Retries one invalidation that tier 2 did not take, on its own timer: after 1 s, 5 s, then
   * every 30 s while the process lives. This is the edge cache's way: an isolate lives briefly
   * and its bundle is paid for on every cold start. `createCache` coalesces what is owed instead
   * (`CoalescingCacheCore`): one entry per key and tag, retried in batches by one timer.
   * @param attempt retries of this invalidation so far (its own recursion passes it)
   */
  owe(keys: string[], tags: string[], attempt = 0): void {
    const timer = setTimeout(
      async () => {
        this.#retries.delete(timer)
        const done = (await this.invalidateNow(keys, tags)) === true
        this.emit(() => ({ type: 'invalidationRetry', attempt: attempt + 1, succeeded: done }))
        if (!done) this.owe(keys, tags, attempt + 1)
      },
      INVALIDATION_RETRY_MS[Math.min(attempt, INVALIDATION_RETRY_MS.length - 1)],
    )
    // A retry must not keep a finished process alive (Node); other runtimes have no unref.
    ;(timer as { unref?: () => void }).unref?.()
    this.#retries.add(timer)
  }

  /** Invalidations still waiting for tier 2 (`createCache`: keys and tags). */
  get pendingInvalidations(): number {
    return this.#retries.size
  }

  /** Consecutive failed background refreshes per key (their backoff doubles); cleared by a load. */
  readonly refreshFailures = new Map<string, number>()

  /** The tier-2 key of an L1 key: the cache's namespace in front. */
  tierKey(key: string): string {
    return this.options.prefix + key
  }

  /** Emits an event; `make` runs only when someone listens. */
  emit(make: () => CacheEvent): void {
    if (this.options.onEvent) this.options.onEvent(make())
  }

  /**
   * Keeps an entry in L1: never past its fresh time, never longer than the jittered `l1.ttl`.
   * @param freshForMs how long the entry stays fresh from now
   */
  fillL1(
    key: string,
    value: unknown,
    nullMarker: boolean,
    size: number,
    freshForMs: number,
    startGen: number,
    tags: Record<string, number> | undefined,
  ): void {
    const ttl = Math.min(jittered(this.options.l1TtlMs, this.options.jitter, this.options.random), freshForMs)
    // Read before a sync that dropped this key: what we hold may be older than that write.
    if (ttl <= 0 || !this.sync.mayFill(key, startGen)) return
    // Always the same four fields: one object shape, so the hit path's property reads stay monomorphic.
    this.l1.set(key, { value, nullMarker, size: Math.max(1, size), tags }, { ttl })
  }

  /**
   * Builds, encodes and stores an entry in both tiers; the tier-2 write goes on in the background.
   * @param freshMs fresh time before jitter
   * @param fenced the fence (and rebuild lock) this write holds: the write is then a
   *   compare-on-fence fill that also releases the lock; `'local'`: L1 only (a load that could not
   *   read tier 2 must not write over what another writer put there); absent: an explicit `set`
   * @returns the tier-2 write, for callers that wait for it (`set`); it never rejects
   * @throws {UnserializableValueError} when the value cannot round-trip
   */
  write(
    key: string,
    value: unknown,
    freshMs: number,
    loadMs: number,
    tags: Record<string, number> | undefined,
    startGen: number,
    fenced?: { fence: number; token: string } | 'local',
    hot = false,
  ): Promise<unknown> {
    const nullMarker = value === null || value === undefined
    const fresh = jittered(freshMs, this.options.jitter, this.options.random)
    // The fence first: stores replace `tc1:{"c":<n>,` without re-encoding the value (see PUT).
    const c = typeof fenced === 'object' ? fenced.fence : 0
    const envelope: Envelope = nullMarker ? { c, n: 1, f: 0, d: loadMs } : { c, v: value, f: 0, d: loadMs }
    envelope.f = this.options.now() + fresh
    if (tags) envelope.t = tags
    if (hot) envelope.h = 1
    const text = encodeEnvelope(key, envelope)
    const size = utf8Length(text)
    // Physical TTL: fresh + grace, so a stale copy can still be served while it is rebuilt; a hot
    // key never expires (it is refreshed in place).
    const ttl = hot ? Infinity : fresh + this.options.graceMs
    const tierKey = this.tierKey(key)
    let stored: Promise<unknown>
    if (fenced === 'local') {
      this.fillL1(key, nullMarker ? null : value, nullMarker, size, fresh, startGen, tags)
      return Promise.resolve()
    }
    if (fenced) {
      // A fenced fill reaches L1 only once tier 2 accepted it: if a write moved the fence while we
      // loaded, our value is older than that write, and no later read here may be served it.
      stored = this.tierTwo('set', () =>
        this.store.fill(tierKey, text, ttl, fenced.fence, fenced.token),
      ).then((written) => {
        if (written === false) {
          this.counters.fillsRefused++
          this.emit(() => ({ type: 'fillRefused', key }))
        } else {
          // Accepted, or tier 2 is away (fail open: keep serving what we loaded from L1).
          this.fillL1(key, nullMarker ? null : value, nullMarker, size, fresh, startGen, tags)
        }
      })
    } else {
      // An explicit write (`set`): it bumps the fence, so a reader that read before it cannot
      // put an older value over it.
      // The new value is this instance's own: it may enter L1 whatever syncs ran before.
      this.fillL1(key, nullMarker ? null : value, nullMarker, size, fresh, OWN_WRITE, tags)
      // Then the stream, so other instances drop their copies (after the put: see `invalidate`).
      stored = this.tierTwo('set', async () => {
        await this.store.put(tierKey, text, ttl)
        await this.store.notify(this.sync.keys, this.options.streamMaxLength, [key], [], this.options.now())
      })
    }
    this.background(stored)
    return stored
  }

  /**
   * Calls tier 2 behind the circuit breaker and the timeout. Never throws: a failure or a timeout
   * is counted, emitted, and answered with undefined (the caller falls back to its loader).
   */
  async tierTwo<T>(
    operation: 'get' | 'set' | 'delete' | 'sync',
    call: () => Promise<T>,
  ): Promise<T | undefined> {
    if (!this.breaker.allow()) return undefined
    const ms = this.options.l2TimeoutMs
    let timer: ReturnType<typeof setTimeout> | undefined
    try {
      const result = await Promise.race([
        call(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new TierTwoTimeout(ms)), ms)
        }),
      ])
      this.breaker.success()
      return result
    } catch (error) {
      if (isRefusal(error)) this.breaker.success()
      else this.breaker.failure()
      this.counters.l2Errors++
      this.emit(() => ({ type: 'l2Error', operation, error }))
      return undefined
    } finally {
      clearTimeout(timer)
    }
  }

  /** Runs work after the caller has its answer; handed to the platform's `waitUntil` when there is one. */
  background(work: Promise<unknown>): void {
    const settled = work.then(
      () => {},
      () => {},
    )
    this.#pending.add(settled)
    void settled.finally(() => this.#pending.delete(settled))
    this.options.waitUntil?.(settled)
  }

  /** Resolves once all background work (tier-2 writes, refreshes) has finished. */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending])
  }

  /** The counters as `stats()` reports them. */
  stats(): CacheStats {
    // The counters carry stats()' own names, but for the ones it reports nested.
    const { l1Hits, l2Hits, syncDrops, syncResets, ...counted } = this.counters
    return {
      hits: { l1: l1Hits, l2: l2Hits }, // first, as documented (a printed stats() reads in this order)
      ...counted,
      sync: { reads: this.sync.reads, dropped: syncDrops, resets: syncResets },
      pendingInvalidations: this.pendingInvalidations,
      circuit: this.breaker.state,
      l1: { entries: this.l1.size, bytes: this.l1.calculatedSize },
    }
  }
}
