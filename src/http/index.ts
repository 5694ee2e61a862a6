/**
 * `tiercache/http`: whole-response caching over the Fetch API, the ground of the Hono, Lambda
 * and edge adapters (and usable on its own with any `(Request) => Response` handler).
 */

export { checkFunction, checkOptionNames, describeValue } from '../option-names.js'
export {
  type ResolvedResponseCacheOptions,
  type ResponseCacheOptions,
  resolveResponseCacheOptions,
} from './options.js'
export { type HeaderReader, requestKey } from './request-key.js'
export { answerFromL1, type CacheStatus, respondCached } from './response-cache.js'
