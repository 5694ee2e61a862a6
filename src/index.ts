/**
 * tiercache: a two-tier cache for serverless functions (in-process LRU in front of Redis over
 * HTTP). This entry grows with the cache; the proxy lives at `tiercache/proxy`.
 */
export { type Duration, type DurationUnit, parseDuration } from './duration.js'
export { InvalidOptionError, TiercacheError } from './errors.js'
