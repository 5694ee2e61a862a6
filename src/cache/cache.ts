/**
 * The two-tier cache (built by `createCache` or `createEdgeCache`). L1 is an in-process LRU; tier 2
 * is shared (Redis over HTTP, or the embedded in-memory store). Runs unchanged on Node, Lambda,
 * Workers and Vercel Edge.
 */

import { checkTimer, type Duration, parseDuration } from '../duration.js'
import { InvalidKeyError, InvalidOptionError } from '../errors.js'
import type { Guard } from '../guard/guard.js'
import { checkFunction, checkOptionNames, describeValue } from '../option-names.js'
import type { BatchLoader, Cache, Loader, LoadOptions, WriteOptions } from './api.js'
import { readBatch, type Settle } from './batch-path.js'
import { CacheCore } from './core.js'
import type { CacheStats } from './events.js'
import { registerCore } from './internals.js'
import type { L1Entry, L1Factory } from './l1-store.js'
import { OWN_WRITE } from './l1-sync.js'
import { learnTagsOf, loadMiss, type Miss } from './miss-path.js'
import { type CacheOptions, resolveOptions } from './options.js'
import { isTierTwoStore, type TierTwoStore } from './store.js'
import { checkTags, namespaceTag, userTag } from './tags.js'
import { freshTime, serveFromTierTwo } from './tier-two-read.js'
import { UpstashStore } from './upstash-store.js'
import { checkWriteOptions, LOAD_OPTIONS } from './write-options.js'

/** The longest key accepted (namespace included): long keys waste memory in both tiers. */
export const MAX_KEY_LENGTH = 1024

/**
 * Builds a cache over the given tier 1 and tier 2; `createCache` and `createEdgeCache` are the
 * public ways in. Kept apart from them so a bundle takes only the L1 and default store it uses.
 * @param l1 builds tier 1's LRU
 * @param defaultStore tier 2 when `options.redis` is not given
 * @param Core the shared core: `createCache` coalesces owed invalidations (`CoalescingCacheCore`)
 * @throws {InvalidOptionError} naming the first bad option
 */
export function buildCache(
  options: CacheOptions,
  l1: L1Factory,
  defaultStore: (now: () => number) => TierTwoStore,
  Core: typeof CacheCore = CacheCore,
): Cache {
  const resolved = resolveOptions(options)
  const store: TierTwoStore =
    options.redis === undefined
      ? defaultStore(resolved.now)
      : isTierTwoStore(options.redis)
        ? options.redis
        : new UpstashStore(options.redis)
  // Views keep keys relative to the cache's namespace: L1 is keyed by them (the root view uses
  // the caller's string as is, no concatenation to hash on the hit path), and the namespace is
  // added where a key goes to tier 2.
  // The private in-memory store has no other writer: no invalidation stream to read.
  // (nor with `maxStaleness: Infinity`, coherence turned off).
  const shared = options.redis !== undefined && resolved.maxStalenessMs !== Infinity
  return new CacheView(new Core(resolved, store, shared, l1), '')
}

class CacheView implements Cache {
  readonly #core: CacheCore
  readonly #prefix: string
  /** The core's L1, held directly: one indirection less on the hit path. */
  readonly #l1: CacheCore['l1']
  readonly #sync: CacheCore['sync']
  readonly #maxKeyLength: number
  readonly #now: () => number
  /** Other instances write tier 2: L1 hits are vouched for by the stream sync. */
  readonly #shared: boolean
  /** The version tags of this view's namespace and of each enclosing one (`clear()` bumps the first). */
  readonly #namespaceTags: string[]

  constructor(core: CacheCore, prefix: string, parentTags: string[] = []) {
    this.#core = core
    this.#prefix = prefix
    this.#l1 = core.l1
    this.#sync = core.sync
    this.#now = core.options.now
    this.#shared = core.sync.shared
    this.#maxKeyLength = MAX_KEY_LENGTH - core.options.prefix.length - prefix.length
    this.#namespaceTags = prefix === '' ? [] : [...parentTags, namespaceTag(prefix)]
    registerCore(this, core, prefix)
  }

  /** The version tags an entry written through this view carries: its namespaces' and the caller's. */
  #tagsFor(options: { tags?: string[] } | undefined): string[] | undefined {
    const own = options?.tags
    if (own === undefined || own.length === 0)
      return this.#namespaceTags.length > 0 ? this.#namespaceTags : undefined
    return [...this.#namespaceTags, ...own.map((tag) => userTag(tag))]
  }

  /** One key's miss, for the miss path (`miss-path.ts`), with this view's tags. */
  #miss<T>(full: string, key: string, loader: Loader<T>, options: LoadOptions | undefined): Miss<T> {
    return { core: this.#core, full, key, loader, options, tags: this.#tagsFor(options) }
  }

  /** Whether an L1 entry may be served now: the last sync is recent enough, and its tags are current. */
  #servable(entry: L1Entry): boolean {
    const sync = this.#sync
    if (this.#now() > sync.freshUntil) {
      // A sync is due: start it (a caller that waits awaits it through `ensure` again).
      void sync.ensure(this.#now())
      return false
    }
    return entry.tags === undefined || sync.current(entry.tags) === true
  }

  #key(key: unknown): string {
    // One comparison on the hit path; the limit already counts both namespaces.
    if (typeof key !== 'string' || key.length === 0 || key.length > this.#maxKeyLength)
      throw this.#badKey(key)
    return this.#prefix === '' ? key : this.#prefix + key
  }

  #badKey(key: unknown): InvalidKeyError {
    if (typeof key !== 'string') return new InvalidKeyError(key, `must be a string, got ${typeof key}`)
    if (key.length === 0) return new InvalidKeyError(key, 'is empty')
    return new InvalidKeyError(key, `is longer than ${MAX_KEY_LENGTH} characters with its namespace`)
  }

  /** The guard says the id exists nowhere: answer null without tier 2 or the loader. */
  #guarded(full: string, key: string, guard: Guard): boolean {
    if (guard.mightContain(key)) return false
    this.#core.counters.guarded++
    this.#core.emit(() => ({ type: 'guarded', key: full, guard: guard.name }))
    return true
  }

  /** The `validate` hook said no: answer null, touching nothing. */
  #rejected(key: string): boolean {
    const { validate } = this.#core.options
    if (!validate || validate(key)) return false
    this.#core.counters.rejected++
    this.#core.emit(() => ({ type: 'rejected', key }))
    return true
  }

  getOrLoad<T>(key: string, loader: Loader<T>, options?: LoadOptions): Promise<T | null> {
    let full: string
    try {
      full = this.#key(key)
      if (this.#rejected(key)) return Promise.resolve(null)
    } catch (error) {
      // It returns a promise: a bad key rejects it (a `.catch()` must see it), it does not throw.
      return Promise.reject(error)
    }
    // The hot path: an L1 hit does no I/O and no await (while the last sync is recent enough).
    // `forceFresh` skips L1 here and tier 2's value in the miss path.
    const entry = options?.forceFresh ? undefined : this.#l1.get(full)
    if (entry !== undefined && ((!this.#shared && entry.tags === undefined) || this.#servable(entry)))
      return Promise.resolve(this.#hitL1(full, entry) as T | null)
    // Checked off the hit path, before anything that may load: on a miss, and on an L1 entry that
    // waits for a sync first.
    try {
      checkFunction(loader, 'loader')
      if (options !== undefined) checkWriteOptions(options, LOAD_OPTIONS)
    } catch (error) {
      return Promise.reject(error)
    }
    if (entry !== undefined) return this.#afterSync(full, key, loader, options)
    if (options?.guard && this.#guarded(full, key, options.guard)) return Promise.resolve(null)
    return this.#joinOrLoad(full, key, loader, options)
  }

  /**
   * The miss path through in-process single flight. A load that started more than `maxStaleness`
   * ago is not joined: its value may predate a write this caller must see.
   */
  #joinOrLoad<T>(full: string, key: string, loader: Loader<T>, options?: LoadOptions): Promise<T | null> {
    const core = this.#core
    const load = () => loadMiss(this.#miss(full, key, loader, options))
    if (!this.#sync.shared) return core.flights.run(full, load) as Promise<T | null>
    const now = core.options.now()
    return core.flights.run(full, load, now - core.options.maxStalenessMs, now) as Promise<T | null>
  }

  /** An L1 hit that needs a stream sync (or whose tags moved) first: sync, then look again. */
  async #afterSync<T>(
    full: string,
    key: string,
    loader: Loader<T>,
    options?: WriteOptions,
  ): Promise<T | null> {
    await this.#sync.ensure(this.#core.options.now())
    const entry = this.#l1.get(full)
    if (entry !== undefined) {
      if (entry.tags === undefined || this.#sync.current(entry.tags) === true)
        return this.#hitL1(full, entry) as T | null
      this.#l1.delete(full) // written under a tag version that has moved on
    }
    if (options?.guard && this.#guarded(full, key, options.guard)) return null
    return this.#joinOrLoad(full, key, loader, options)
  }

  #hitL1(full: string, entry: { value: unknown; nullMarker: boolean }): unknown {
    const core = this.#core
    core.counters.l1Hits++
    if (entry.nullMarker) core.counters.nullHits++
    // No closure or event object on the hot path unless someone listens.
    const { onEvent } = core.options
    if (onEvent) onEvent({ type: 'hit', key: full, tier: 'l1', nullMarker: entry.nullMarker })
    return entry.nullMarker ? null : entry.value
  }

  async get<T>(key: string): Promise<T | null | undefined> {
    const full = this.#key(key)
    if (this.#rejected(key)) return null
    const sync = this.#sync
    const core = this.#core
    if (sync.shared) await sync.ensure(core.options.now())
    const entry = this.#l1.get(full)
    if (entry !== undefined) {
      if (entry.tags === undefined || sync.current(entry.tags) === true)
        return this.#hitL1(full, entry) as T | null
      this.#l1.delete(full)
    }
    const startGen = sync.gen
    const [text] = (await core.tierTwo('get', () => core.store.getMany([core.tierKey(full)]))) ?? []
    await learnTagsOf(this.#sync, [text])
    const served = serveFromTierTwo<T>(this.#core, full, text, startGen)
    if (served) return served.value
    core.counters.misses++
    core.emit(() => ({ type: 'miss', key: full }))
    return undefined
  }

  async set<T>(key: string, value: T | null, options?: WriteOptions): Promise<void> {
    if (options !== undefined) checkWriteOptions(options)
    const full = this.#key(key)
    const found = value !== null && value !== undefined
    const tags = this.#tagsFor(options)
    if (tags) await this.#sync.learn(tags)
    await this.#core.write(
      full,
      value,
      freshTime(this.#core.options, found, options),
      0,
      tags && this.#sync.versionsOf(tags),
      OWN_WRITE,
    )
  }

  async write<R>(
    keyOrKeys: string | string[],
    writer: () => R | Promise<R>,
    options?: { tags?: string[]; doubleDelete?: Duration },
  ): Promise<R> {
    if (options !== undefined) checkOptionNames(options, ['tags', 'doubleDelete'])
    checkFunction(writer, 'writer')
    const keys = (Array.isArray(keyOrKeys) ? keyOrKeys : [keyOrKeys]).map((k) => this.#key(k))
    const tags = checkTags(options?.tags ?? [])
    // Checked before the writer runs: a bad option found after it would leave the source
    // updated and the cache not invalidated.
    const second =
      options?.doubleDelete === undefined
        ? this.#core.options.doubleDeleteMs
        : checkTimer(parseDuration(options.doubleDelete, 'doubleDelete'), 'doubleDelete')
    // The source of truth first: if it throws, the cache is left as it was.
    const result = await writer()
    await this.#core.invalidate(keys, second, tags.map(userTag))
    return result
  }

  async invalidateTags(tagOrTags: string | string[]): Promise<void> {
    const tags = checkTags(Array.isArray(tagOrTags) ? tagOrTags : [tagOrTags])
    await this.#core.invalidate([], undefined, tags.map(userTag))
  }

  async clear(): Promise<void> {
    const own = this.#namespaceTags.at(-1)
    if (own === undefined) {
      throw new InvalidOptionError(
        'namespace',
        'clear() empties a namespace view: call it on cache.namespace(name) (the root view has no namespace version)',
      )
    }
    await this.#core.invalidate([], undefined, [own])
  }

  async delete(keyOrKeys: string | string[]): Promise<void> {
    const keys = (Array.isArray(keyOrKeys) ? keyOrKeys : [keyOrKeys]).map((k) => this.#key(k))
    // A tombstone, not a plain DEL: with the key simply gone, a reader that read it before could
    // still fill its old value back (its fence would match an absent key's).
    await this.#core.invalidate(keys, undefined)
  }

  async getMany<T>(
    keys: string[],
    loadMany?: BatchLoader<T>,
    options?: WriteOptions,
  ): Promise<Array<T | null | undefined>> {
    if (!Array.isArray(keys))
      throw new InvalidOptionError('keys', `must be an array of keys, got ${describeValue(keys)}`)
    if (loadMany !== undefined) checkFunction(loadMany, 'loadMany')
    if (options !== undefined) checkWriteOptions(options)
    const core = this.#core
    const fulls = keys.map((k) => this.#key(k))
    const sync = this.#sync
    if (sync.shared) await sync.ensure(core.options.now())
    const tags = this.#tagsFor(options)
    if (tags) await sync.learn(tags)
    const results: Array<T | null | undefined> = new Array(keys.length)
    const missing: number[] = []
    fulls.forEach((full, i) => {
      if (this.#rejected(keys[i]!)) results[i] = null
      else {
        const entry = this.#l1.get(full)
        if (entry !== undefined && (entry.tags === undefined || sync.current(entry.tags) === true))
          results[i] = this.#hitL1(full, entry) as T | null
        else if (options?.guard && this.#guarded(full, keys[i]!, options.guard)) results[i] = null
        else missing.push(i)
      }
    })
    if (missing.length === 0) return results
    if (!loadMany) {
      await readBatch(core, keys, fulls, undefined, options, tags, results, missing)
      return results
    }
    // In-process single flight, key by key: a key this process is already loading (a getOrLoad,
    // another getMany, or the same key twice in this one) is joined, not loaded again; the rest
    // become this batch's flights, for later callers to join.
    const now = core.options.now()
    const since = sync.shared ? now - core.options.maxStalenessMs : -Infinity
    const waits: Array<Promise<unknown>> = []
    const own: number[] = []
    const settle = new Map<number, Settle>()
    for (const i of missing) {
      const running = core.flights.joinable(fulls[i]!, since)
      if (running) {
        waits.push(running.then((value) => (results[i] = value as T | null)))
        continue
      }
      own.push(i)
      const flight = core.flights.run(
        fulls[i]!,
        () => new Promise((resolve, reject) => settle.set(i, { resolve, reject })),
        since,
        now,
      )
      // Its error reaches this caller through the batch; a flight nobody joined must not go unhandled.
      flight.catch(() => {})
    }
    waits.push(readBatch(core, keys, fulls, loadMany, options, tags, results, own, settle))
    await Promise.all(waits)
    return results
  }

  namespace(name: string): Cache {
    if (typeof name !== 'string' || name.length === 0)
      throw new InvalidKeyError(name, 'a namespace must be a non-empty string')
    return new CacheView(this.#core, `${this.#prefix}${name}:`, this.#namespaceTags)
  }

  peek<T>(key: string): T | null | undefined {
    const entry = this.#l1.get(this.#key(key))
    if (entry === undefined) return undefined
    // Synchronous: when a sync is due it starts in the background and peek answers "not in L1".
    if (entry.tags !== undefined || this.#shared) return this.#peekChecked<T>(entry)
    return (entry.nullMarker ? null : entry.value) as T | null
  }

  getFromL1<T>(key: string): T | null | undefined {
    const full = this.#key(key)
    if (this.#rejected(key)) return null
    const entry = this.#l1.get(full)
    if (entry === undefined) return undefined
    if ((this.#shared || entry.tags !== undefined) && !this.#servable(entry)) return undefined
    return this.#hitL1(full, entry) as T | null
  }

  /** peek's answer when L1 must first be vouched for (a shared tier 2, or a tagged entry). */
  #peekChecked<T>(entry: L1Entry): T | null | undefined {
    if (!this.#servable(entry)) return undefined
    return (entry.nullMarker ? null : entry.value) as T | null
  }

  stats(): CacheStats {
    return this.#core.stats()
  }

  settled(): Promise<void> {
    return this.#core.settled()
  }
}
