/**
 * `tiercache/http`: whole-response caching over the Fetch API, the ground of the Hono, Lambda
 * and edge adapters (and usable on its own with any `(Request) => Response` handler).
 */
export {
  type CacheStatus,
  type HeaderReader,
  type ResolvedResponseCacheOptions,
  type ResponseCacheOptions,
  requestKey,
  resolveResponseCacheOptions,
  respondCached,
} from './response-cache.js'
