/**
 * Cross-instance L1 coherence over plain HTTP (no pub/sub, no long connections). Writes append
 * the keys and tags they invalidate to a capped Redis Stream; each instance keeps a cursor, and
 * before it serves an L1 hit whose last sync is older than `maxStaleness` it reads the stream from
 * there and drops what the entries name. Tags and namespaces are versions: an entry remembers the
 * versions of its tags when it was loaded, and one written under an older version is not served.
 *
 * The bound: a sync that *started* after a write completed has seen that write's entry, so an L1
 * hit served while the last completed sync started at most `maxStaleness` ago is never older than
 * `maxStaleness` relative to a write that completed before the read began. Two more rules keep it:
 * a value read from tier 2 before a sync that dropped its key does not enter L1 afterwards (the
 * generation check in `mayFill`), and nothing enters L1 before this instance has its first cursor.
 */
import type { InvalidationBatch, TierTwoStore } from './store.js'
import type { SyncKeys } from './sync-scripts.js'

/** What a sync dropped: the keys, or everything (the cursor fell behind the trimmed stream). */
interface Change {
  gen: number
  keys: Set<string> | 'all'
}

/** How many changing syncs are remembered for `mayFill`; an older read simply skips L1. */
const CHANGES_KEPT = 128
/** Tag versions remembered per instance before the map is dropped (they are fetched again lazily). */
const VERSIONS_KEPT = 10_000

/** The `startGen` of a value this instance wrote itself (`set`): the newest there is, it may enter L1. */
export const OWN_WRITE = Number.MAX_SAFE_INTEGER

/** What the sync needs from the cache around it. */
export interface L1SyncDeps {
  store: TierTwoStore
  keys: SyncKeys
  l1: { delete(key: string): unknown; clear(): void }
  now: () => number
  maxStalenessMs: number
  /** Entries read per stream call (a sync that gets a full batch reads on). */
  batch: number
  /** False when nobody else can write tier 2 (the cache's private in-memory store): no stream reads. */
  shared: boolean
  /** A tier-2 call behind the cache's timeout and breaker: undefined when it failed. */
  tierTwo: <T>(call: () => Promise<T>) => Promise<T | undefined>
  /** Reports a sync that dropped something. */
  onSync?: (dropped: number, reset: boolean) => void
}

/** One instance's view of the invalidation stream and of tag versions. */
export class L1Sync {
  /** Counts syncs that dropped something; -1 until the first cursor is known. */
  gen: number
  /** Wall time at which the last completed sync started (−∞: never). */
  lastStart = -Infinity
  /**
   * Until when (wall time) a read may be served from L1 without a sync: the last sync's start +
   * maxStaleness (−∞ with maxStaleness 0, or before the first sync; +∞ when nothing is shared).
   * A plain field: the L1 hit path compares the clock with it and calls nothing.
   */
  freshUntil: number
  /** Stream reads made (for `stats()` and the sync-cost bench). */
  reads = 0
  readonly #deps: L1SyncDeps
  readonly #changes: Change[] = []
  readonly #versions = new Map<string, number>()
  #cursor = ''
  #running: Promise<void> | undefined
  #next: Promise<void> | undefined

  /** True when this instance reads the stream at all (a plain field: read on the L1 hit path). */
  readonly shared: boolean

  constructor(deps: L1SyncDeps) {
    this.#deps = deps
    this.shared = deps.shared
    // A private store has no other writer: every write here already updated L1 and versions.
    this.gen = deps.shared ? -1 : 0
    this.freshUntil = deps.shared ? -Infinity : Infinity
  }

  /** The stream and versions keys. */
  get keys(): SyncKeys {
    return this.#deps.keys
  }

  /**
   * Makes sure a sync that started no earlier than `readStart − maxStaleness` has completed (with
   * `maxStaleness` 0: one that started after this call). Undefined when that is already so.
   */
  ensure(readStart: number): Promise<void> | undefined {
    const { shared, maxStalenessMs } = this.#deps
    if (!shared) return undefined
    if (maxStalenessMs > 0 && this.lastStart >= readStart - maxStalenessMs) return undefined
    if (this.#running && maxStalenessMs > 0 && this.#runningStart >= readStart - maxStalenessMs)
      return this.#running
    // None running: start one now, synchronously, so its request goes out in the same tick as
    // the caller's own tier-2 call (the client pipelines them into one HTTP request).
    if (!this.#running) return this.#start()
    // One is running but started too early for this read: the next one, shared by every read that needs it.
    if (!this.#next) {
      this.#next = this.#running.then(() => {
        this.#next = undefined
        return this.#start()
      })
    }
    return this.#next
  }

  #runningStart = -Infinity

  #start(): Promise<void> {
    const startedAt = this.#deps.now()
    this.#runningStart = startedAt
    const run = this.#run(startedAt).finally(() => {
      this.#running = undefined
    })
    this.#running = run
    return run
  }

  async #run(startedAt: number): Promise<void> {
    const { store, keys, batch, tierTwo } = this.#deps
    for (;;) {
      this.reads++
      const cursor = this.#cursor
      const answer = await tierTwo(() => store.readInvalidations(keys, cursor, batch))
      // Tier 2 is away or slow: L1 keeps being served (availability; writes cannot reach the
      // stream meanwhile either) and the sync is tried again after maxStaleness, from the same
      // cursor, so nothing in the stream is skipped. Counted as an l2Error by `tierTwo`. A new
      // instance lets L1 fill meanwhile (loads fail open) and clears it once it has a cursor.
      if (answer === undefined) {
        if (this.gen < 0) this.gen = 0
        break
      }
      this.#apply(answer)
      if (answer.entries.length < batch || answer.reset) break
    }
    this.lastStart = startedAt
    if (this.#deps.maxStalenessMs > 0) this.freshUntil = startedAt + this.#deps.maxStalenessMs
  }

  #apply(answer: InvalidationBatch): void {
    const { l1, onSync } = this.#deps
    const first = this.#cursor === ''
    this.#cursor = answer.cursor
    if (first && this.gen < 0) {
      // A new instance starts at the stream's end; nothing was put in L1 before this (mayFill).
      this.gen = 0
      return
    }
    if (first) {
      // L1 was filled while tier 2 was away: those values may predate writes this cursor skips.
      l1.clear()
      this.#record('all')
      onSync?.(0, true)
      return
    }
    if (answer.reset) {
      l1.clear()
      this.#versions.clear()
      this.#record('all')
      onSync?.(0, true)
      return
    }
    if (answer.entries.length === 0) return
    const dropped = new Set<string>()
    for (const entry of answer.entries) {
      for (const key of entry.keys) {
        l1.delete(key)
        dropped.add(key)
      }
      this.#learnVersions(entry.tags)
    }
    this.#record(dropped)
    onSync?.(dropped.size, false)
  }

  #record(keys: Set<string> | 'all'): void {
    this.gen++
    this.#changes.push({ gen: this.gen, keys })
    if (this.#changes.length > CHANGES_KEPT) this.#changes.shift()
  }

  /**
   * Whether a value read from tier 2 (or loaded) when the generation was `startGen` may enter L1:
   * not if a sync since then dropped its key or everything, and not before the first cursor.
   */
  mayFill(key: string, startGen: number): boolean {
    if (startGen === this.gen || startGen === OWN_WRITE) return startGen >= 0
    if (startGen < 0) return false
    const oldest = this.#changes[0]
    if (!oldest || startGen < oldest.gen - 1) return false
    for (const change of this.#changes) {
      if (change.gen > startGen && (change.keys === 'all' || change.keys.has(key))) return false
    }
    return true
  }

  /** Drops L1 keys this instance invalidated itself, and refuses fills of them read before. */
  dropLocally(keys: string[]): void {
    for (const key of keys) this.#deps.l1.delete(key)
    if (this.gen >= 0 && keys.length > 0) this.#record(new Set(keys))
  }

  /** Records tag versions (they only grow). */
  #learnVersions(tags: Record<string, number>): void {
    for (const [tag, version] of Object.entries(tags)) {
      if ((this.#versions.get(tag) ?? 0) < version) this.#versions.set(tag, version)
    }
    if (this.#versions.size > VERSIONS_KEPT) this.#versions.clear()
  }

  /** Records versions this instance bumped itself (`notify` answered them). */
  bumped(tags: string[], versions: number[]): void {
    const learned: Record<string, number> = {}
    tags.forEach((tag, i) => {
      learned[tag] = versions[i] ?? 0
    })
    this.#learnVersions(learned)
  }

  /** Forgets tags (an invalidation of them could not reach tier 2): entries under them stop being served here. */
  forget(tags: string[]): void {
    // Unknown tags make entries unservable until `learn` reads their versions again.
    for (const tag of tags) this.#versions.delete(tag)
  }

  /** Fetches the versions of tags this instance has not seen yet (one call; none when all are known). */
  learn(tags: string[]): Promise<void> | undefined {
    const unknown = tags.filter((tag) => !this.#versions.has(tag))
    if (unknown.length === 0) return undefined
    const { store, keys, tierTwo } = this.#deps
    return tierTwo(() => store.tagVersions(keys, unknown)).then((versions) => {
      if (!versions) return
      const learned: Record<string, number> = {}
      unknown.forEach((tag, i) => {
        learned[tag] = versions[i] ?? 0
      })
      // A version fetched here may have been set meanwhile by a sync; it only grows.
      for (const tag of unknown) if (!this.#versions.has(tag)) this.#versions.set(tag, learned[tag]!)
      this.#learnVersions(learned)
    })
  }

  /** The versions of tags as known here (call `learn` first), for an entry being written. */
  versionsOf(tags: string[]): Record<string, number> {
    const out: Record<string, number> = {}
    for (const tag of tags) out[tag] = this.#versions.get(tag) ?? 0
    return out
  }

  /**
   * Whether an entry written under these tag versions may be served: true, false, or undefined
   * when a tag is not known here yet (`learn` it, then ask again).
   */
  current(tags: Record<string, number>): boolean | undefined {
    for (const tag in tags) {
      const known = this.#versions.get(tag)
      if (known === undefined) return undefined
      if (tags[tag]! < known) return false
    }
    return true
  }
}
