/**
 * The embedded tier 2: a Map in this process, with the store contract's expiry. The default when
 * no Redis is configured (development, demos, unit tests); it shares nothing across instances.
 */
import { decodeEnvelope } from './envelope.js'
import type { Invalidation, InvalidationBatch, ReadOrLock, TierTwoStore } from './store.js'
import type { SyncKeys } from './sync-scripts.js'

/** One stream: its entries (ids are a counter) and the last id trimmed away (see NOTIFY). */
interface MemoryStream {
  entries: Array<{ id: number } & Invalidation>
  nextId: number
  trimmed: number
}

/** An in-memory tier 2 whose expiry follows the injected clock. */
export class MemoryStore implements TierTwoStore {
  readonly #entries = new Map<string, { value: string; expiresAt: number }>()
  readonly #locks = new Map<string, { token: string; expiresAt: number }>()
  readonly #now: () => number
  readonly #streams = new Map<string, MemoryStream>()
  readonly #versions = new Map<string, Map<string, number>>()

  /** @param now wall-clock milliseconds (injected in tests) */
  constructor(now: () => number = Date.now) {
    this.#now = now
  }

  async getMany(keys: string[]): Promise<Array<string | undefined>> {
    return this.#read(keys)
  }

  // Internal reads do not go through getMany: a subclass counting round trips counts the cache's only.
  #read(keys: string[]): Array<string | undefined> {
    const now = this.#now()
    return keys.map((key) => {
      const entry = this.#entries.get(key)
      if (!entry) return undefined
      if (entry.expiresAt <= now) {
        this.#entries.delete(key)
        return undefined
      }
      return entry.value
    })
  }

  /**
   * Writes an entry's text as given, removed after `ttlMs` (what `put`, `fill` and `invalidate`
   * build on; tests use it to lay down entries). Not part of the store contract: the cache never
   * writes an entry without a fence.
   */
  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.#entries.set(key, { value, expiresAt: this.#now() + ttlMs })
  }

  async readOrLock(
    key: string,
    token: string,
    lockTtlMs: number,
    now: number,
    tagVersions?: Record<string, number>,
  ): Promise<ReadOrLock> {
    const [text] = this.#read([key])
    const envelope = decodeEnvelope(text)
    const fresh =
      envelope !== undefined &&
      envelope.f > now &&
      Object.entries(envelope.t ?? {}).every(([tag, v]) => v >= (tagVersions?.[tag] ?? 0))
    if (!fresh && this.#lockHolder(key) === undefined)
      this.#locks.set(key, { token, expiresAt: this.#now() + lockTtlMs })
    // Held with this token: taken now, or by this same call run before (as the Lua script says).
    return { text, locked: this.#lockHolder(key) === token, fence: envelope?.c ?? 0 }
  }

  async fill(key: string, value: string, ttlMs: number, fence: number, token: string): Promise<boolean> {
    await this.unlock(key, token)
    const [current] = this.#read([key])
    if ((decodeEnvelope(current)?.c ?? 0) !== fence) return false
    await this.set(key, value, ttlMs)
    return true
  }

  async unlock(key: string, token: string): Promise<boolean> {
    if (this.#lockHolder(key) !== token) return false
    this.#locks.delete(key)
    return true
  }

  async put(key: string, value: string, ttlMs: number): Promise<void> {
    const [current] = this.#read([key])
    const fence = (decodeEnvelope(current)?.c ?? 0) + 1
    await this.set(key, value.replace(/^tc1:\{"c":-?\d+,/, `tc1:{"c":${fence},`), ttlMs)
  }

  async invalidate(keys: string[], ttlMs: number): Promise<void> {
    for (const key of keys) {
      const [current] = this.#read([key])
      const fence = (decodeEnvelope(current)?.c ?? 0) + 1
      await this.set(key, `tc1:${JSON.stringify({ n: 1, f: 0, d: 0, c: fence })}`, ttlMs)
    }
  }

  async holdLock(key: string, token: string, ms: number): Promise<boolean> {
    if (this.#lockHolder(key) !== token) return false
    this.#locks.set(key, { token, expiresAt: this.#now() + ms })
    return true
  }

  #lockHolder(key: string): string | undefined {
    const lock = this.#locks.get(key)
    if (!lock) return undefined
    if (lock.expiresAt <= this.#now()) {
      this.#locks.delete(key)
      return undefined
    }
    return lock.token
  }

  async notify(
    sync: SyncKeys,
    bound: number,
    keys: string[],
    tags: string[],
    now: number,
  ): Promise<number[]> {
    const versions = this.#tagMap(sync)
    const bumped: Record<string, number> = {}
    const out = tags.map((tag) => {
      // At least the caller's clock, as the Upstash store's script: see NOTIFY.
      const v = Math.max((versions.get(tag) ?? 0) + 1, Math.floor(now))
      versions.set(tag, v)
      bumped[tag] = v
      return v
    })
    const stream = this.#stream(sync)
    stream.entries.push({ id: stream.nextId++, keys: [...keys], tags: bumped })
    const excess = stream.entries.length - bound
    if (excess >= Math.max(1, Math.floor(bound / 10))) {
      stream.trimmed = stream.entries[excess - 1]!.id
      stream.entries.splice(0, excess)
    }
    return out
  }

  async readInvalidations(sync: SyncKeys, cursor: string, count: number): Promise<InvalidationBatch> {
    const stream = this.#stream(sync)
    const tail = String(stream.entries.at(-1)?.id ?? stream.trimmed)
    if (cursor === '') return { cursor: tail, reset: false, entries: [] }
    const at = Number(cursor)
    if (!Number.isSafeInteger(at) || at < stream.trimmed) return { cursor: tail, reset: true, entries: [] }
    const entries = stream.entries.filter((e) => e.id > at).slice(0, count)
    return {
      cursor: entries.length > 0 ? String(entries.at(-1)!.id) : cursor,
      reset: false,
      entries: entries.map(({ keys, tags }) => ({ keys: [...keys], tags: { ...tags } })),
    }
  }

  async tagVersions(sync: SyncKeys, tags: string[]): Promise<number[]> {
    const versions = this.#tagMap(sync)
    return tags.map((tag) => versions.get(tag) ?? 0)
  }

  #stream(sync: SyncKeys): MemoryStream {
    let stream = this.#streams.get(sync.stream)
    if (!stream) {
      stream = { entries: [], nextId: 1, trimmed: 0 }
      this.#streams.set(sync.stream, stream)
    }
    return stream
  }

  #tagMap(sync: SyncKeys): Map<string, number> {
    let versions = this.#versions.get(sync.versions)
    if (!versions) {
      versions = new Map()
      this.#versions.set(sync.versions, versions)
    }
    return versions
  }
}
