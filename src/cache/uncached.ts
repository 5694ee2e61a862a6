/**
 * A loader's answer that goes back to its caller but is not cached anywhere: for results that
 * must not be stored (an HTTP response marked private, too large, or an error page), while the
 * call still gets in-process single flight and the fleet-wide rebuild lock (released at once).
 */

/** A value the cache returns without storing it (see `uncached`). */
export class Uncached<T> {
  constructor(readonly value: T) {}
}

/**
 * Wraps a loader's answer so that `getOrLoad` returns it without storing it in either tier.
 * @example
 * cache.getOrLoad(key, async () => (row.private ? uncached(row) : row))
 */
export function uncached<T>(value: T): Uncached<T> {
  return new Uncached(value)
}
