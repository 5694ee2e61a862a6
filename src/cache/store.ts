/**
 * The tier-2 store contract: what the cache needs from any shared store. Entries are opaque text
 * (encoded envelopes); every method is one round trip. Two implementations: the embedded
 * in-memory store and the Upstash REST store. `test/cache/store-contract.ts` runs one suite on both.
 */
export interface TierTwoStore {
  /** Reads several entries in one round trip: the text or undefined for each key, in order. */
  getMany(keys: string[]): Promise<Array<string | undefined>>
  /** Writes one entry that the store removes by itself after `ttlMs` milliseconds. */
  set(key: string, value: string, ttlMs: number): Promise<void>
  /** Removes entries (absent ones are ignored), in one round trip. */
  delete(keys: string[]): Promise<void>
}
