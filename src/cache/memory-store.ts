/**
 * The embedded tier 2: a Map in this process, with the store contract's expiry. The default when
 * no Redis is configured (development, demos, unit tests); it shares nothing across instances.
 */
import type { TierTwoStore } from './store.js'

/** An in-memory tier 2 whose expiry follows the injected clock. */
export class MemoryStore implements TierTwoStore {
  readonly #entries = new Map<string, { value: string; expiresAt: number }>()
  readonly #now: () => number

  /** @param now wall-clock milliseconds (injected in tests) */
  constructor(now: () => number = Date.now) {
    this.#now = now
  }

  async getMany(keys: string[]): Promise<Array<string | undefined>> {
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

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.#entries.set(key, { value, expiresAt: this.#now() + ttlMs })
  }

  async delete(keys: string[]): Promise<void> {
    for (const key of keys) this.#entries.delete(key)
  }

  /** Entries held now, expired ones included until they are read (for tests and stats). */
  get size(): number {
    return this.#entries.size
  }
}
