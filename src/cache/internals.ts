/**
 * The core behind a cache view, for tiercache's own modules that build on a cache (the guard)
 * without the cache importing them: code a bundle does not use stays out of it.
 */
import type { Cache } from './api.js'
import type { CacheCore } from './core.js'

const cores = new WeakMap<Cache, CacheCore>()

/** Records a view's core (called by the view's constructor). */
export function registerCore(view: Cache, core: CacheCore): void {
  cores.set(view, core)
}

/** The core of a cache made by `createCache`, or undefined for anything else. */
export function findCore(cache: Cache): CacheCore | undefined {
  return cores.get(cache)
}

/**
 * The core of a cache made by `createCache`.
 * @throws {TypeError} for anything else
 */
export function coreOf(cache: Cache): CacheCore {
  const core = cores.get(cache)
  if (!core) throw new TypeError('expected a cache made by createCache()')
  return core
}
