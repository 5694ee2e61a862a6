/**
 * `tiercache/guard`: Bloom-filter guards against ids that exist nowhere (cache penetration).
 * A subpath of its own, so bundles that do not use it do not carry it.
 */
export { createGuard } from './for-cache.js'
export type { Guard, GuardOptions, GuardStats } from './guard.js'
