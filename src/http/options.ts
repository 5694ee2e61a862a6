/**
 * Options of whole-response caching: their types, defaults and validation (a bad option names
 * itself at setup, not on the first request).
 */
import type { Cache } from '../cache/api.js'
import { findCore } from '../cache/internals.js'
import { type Duration, parseDuration } from '../duration.js'
import { InvalidOptionError } from '../errors.js'
import { checkFunction, checkOptionNames, describeValue } from '../option-names.js'

/** Options of response caching. */
export interface ResponseCacheOptions {
  /** The cache responses are kept in (under keys that start with `http:`). */
  cache: Cache
  /** Fresh time of a cached response. @default '1m' */
  ttl?: Duration
  /** Request methods that are cached (HEAD is answered from GET's entry). @default ['GET', 'HEAD'] */
  methods?: string[]
  /** Response statuses that are cached. @default [200] */
  statuses?: number[]
  /** Request headers whose values are part of the key (like a response's `Vary`). @default [] */
  vary?: string[]
  /** Bodies larger than this pass through uncached (they are not buffered past it). @default 1 MiB */
  maxBodyBytes?: number
  /** The key of a request. @default method + path + sorted query (+ `vary` headers) */
  key?: (request: Request) => string
  /** Tags of the cached responses, for `cache.invalidateTags`. */
  tags?: string[] | ((request: Request) => string[])
  /** Wall clock for STALE. @default the cache's own clock (its `clock` option), else `Date` */
  clock?: { now(): number }
  /**
   * Produces a response in the background, to refresh a stale one while it is served (for example
   * `(request) => app.fetch(request)`; the request it gets carries `Cache-Control: no-store`, so
   * passing through this cache again produces). Without it, a stale response is served once and the next
   * request for it produces a new one in the foreground (a handler chain cannot run twice).
   */
  refresh?: (request: Request) => Promise<Response> | Response
}

/** The options with their defaults, validated once. */
export interface ResolvedResponseCacheOptions {
  cache: Cache
  ttl: number
  methods: Set<string>
  statuses: Set<number>
  vary: string[]
  maxBodyBytes: number
  key: ((request: Request) => string) | undefined
  tags: ((request: Request) => string[]) | undefined
  now: () => number
  refresh: ((request: Request) => Promise<Response> | Response) | undefined
  /** Keys whose stale response was served with no way to refresh it: the next request revalidates. */
  revalidate: Set<string>
  /** Cache keys of recently seen URLs (default keys only): see `keyOf` in response-cache.ts. */
  keysByUrl: Map<string, string>
}

const DEFAULT_MAX_BODY = 1024 * 1024
/** The options response caching knows: any other name is refused. */
const OPTION_NAMES = [
  'cache',
  'ttl',
  'methods',
  'statuses',
  'vary',
  'maxBodyBytes',
  'key',
  'tags',
  'clock',
  'refresh',
] as const
const DEFAULT_TTL: Duration = '1m'

/**
 * Validates response-cache options.
 * @throws {InvalidOptionError} naming the first bad option
 */
export function resolveResponseCacheOptions(options: ResponseCacheOptions): ResolvedResponseCacheOptions {
  checkOptionNames(options, OPTION_NAMES)
  const {
    cache,
    ttl = DEFAULT_TTL,
    methods = ['GET', 'HEAD'],
    statuses = [200],
    vary = [],
    key,
    tags,
  } = options
  if (!cache || typeof cache.getOrLoad !== 'function' || typeof cache.namespace !== 'function')
    throw new InvalidOptionError('cache', 'must be a cache from createCache()')
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 0)
    throw new InvalidOptionError('maxBodyBytes', `must be an integer ≥ 0, got ${describeValue(maxBodyBytes)}`)
  if (!Array.isArray(methods) || methods.some((m) => typeof m !== 'string'))
    throw new InvalidOptionError('methods', 'must be an array of method names')
  if (!Array.isArray(statuses) || statuses.some((s) => !Number.isInteger(s)))
    throw new InvalidOptionError('statuses', 'must be an array of status codes')
  if (!Array.isArray(vary) || vary.some((h) => typeof h !== 'string'))
    throw new InvalidOptionError('vary', 'must be an array of header names')
  if (key !== undefined) checkFunction(key, 'key')
  if (options.refresh !== undefined) checkFunction(options.refresh, 'refresh')
  return {
    cache,
    ttl: parseDuration(ttl, 'ttl'),
    methods: new Set(methods.map((m) => m.toUpperCase())),
    statuses: new Set(statuses),
    vary: vary.map((h) => h.toLowerCase()),
    maxBodyBytes,
    key,
    tags: tags === undefined ? undefined : typeof tags === 'function' ? tags : () => tags,
    // The cache's clock by default: an entry's fresh time and the STALE check must agree with it.
    now: options.clock ? () => options.clock!.now() : (findCore(cache)?.options.now ?? Date.now),
    refresh: options.refresh,
    revalidate: new Set(),
    keysByUrl: new Map(),
  }
}
