/**
 * TTL jitter against avalanches: keys written together must not expire together.
 */

/**
 * Spreads a TTL uniformly over `ttl × (1 ± jitter)`.
 * @param random a uniform number in [0, 1) (injected in tests)
 * @returns a whole number of milliseconds, at least 1 for a positive TTL
 */
export function jittered(ttlMs: number, jitter: number, random: () => number): number {
  if (jitter === 0 || ttlMs === 0) return ttlMs
  const factor = 1 + jitter * (2 * random() - 1)
  return Math.max(1, Math.round(ttlMs * factor))
}
