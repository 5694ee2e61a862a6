/**
 * The core behind a cache view, for tiercache's own modules that build on a cache (the guard, the
 * response cache) without the cache importing them: code a bundle does not use stays out of it.
 */
import type { Cache } from './api.js'
import type { CacheCore } from './core.js'

/** Each view's core, and the prefix its keys take in the core's L1. */
const views = new WeakMap<Cache, [CacheCore, string]>()

/** Records a view's core and key prefix (called by the view's constructor). */
export function registerCore(view: Cache, core: CacheCore, prefix: string): void {
  views.set(view, [core, prefix])
}

/** The core of a cache made by `createCache`, or undefined for anything else. */
export function findCore(cache: Cache): CacheCore | undefined {
  return views.get(cache)?.[0]
}

/**
 * The core of a cache made by `createCache`.
 * @throws {TypeError} for anything else
 */
export function coreOf(cache: Cache): CacheCore {
  const core = findCore(cache)
  if (!core) throw new TypeError('expected a cache made by createCache()')
  return core
}

/**
 * The value L1 holds for `key` of a cache made by `createCache`, as it is: not vouched for by a
 * stream sync, not counted (undefined for anything else). Tier 2's answers are decoded into new
 * objects, so a `getOrLoad` that answers this very object answered it from L1.
 */
export function l1ValueOf(cache: Cache, key: string): unknown {
  const view = views.get(cache)
  return view?.[0].l1.get(view[1] + key)?.value
}
