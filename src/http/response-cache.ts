/**
 * Whole-response caching over the Fetch API (`Request` → `Response`), shared by the Hono, Lambda
 * and edge adapters: which requests and responses are cacheable, the key, the stored form, ETags
 * and 304s, `x-cache` and `Server-Timing`. Runs unchanged on Node, Workers and Vercel Edge (no
 * Node-only API: base64 and hashing go through `btoa`/`atob` and Web Crypto).
 */
import type { Cache } from '../cache/api.js'
import { type Uncached, uncached } from '../cache/uncached.js'
import { type Duration, parseDuration } from '../duration.js'
import { InvalidOptionError } from '../errors.js'

/** How a response was answered. */
export type CacheStatus = 'HIT' | 'MISS' | 'STALE' | 'BYPASS'

/** Options of response caching. */
export interface ResponseCacheOptions {
  /** The cache responses are kept in (in its namespace `http:`). */
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
  /** Wall clock for STALE (pass the cache's, when it was given one). @default Date */
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
}

/** What is stored for one response. */
interface StoredResponse {
  status: number
  headers: Array<[string, string]>
  /** The body, as text (`encoding: 'utf8'`) or base64. */
  body: string
  encoding: 'utf8' | 'base64'
  etag: string
  /** Fresh until (wall-clock ms): past it, the entry is being served stale. */
  freshUntil: number
}

/** A response that was not stored, answered to the caller that produced it. */
interface PassThrough {
  response: Response
}

const DEFAULT_MAX_BODY = 1024 * 1024
const DEFAULT_TTL: Duration = '1m'
/** Keys waiting for a foreground revalidation, at most (the set is dropped past it: a few extra stale answers). */
const MAX_PENDING_REVALIDATIONS = 10_000
/** Keys longer than this are hashed (the cache refuses keys over 1024 characters). */
const LONGEST_PLAIN_KEY = 512
/** Headers that describe one connection or one encoding of the body, never stored. */
const NOT_STORED = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'set-cookie',
  'x-cache', // set on every answer
])

/**
 * Validates response-cache options.
 * @throws {InvalidOptionError} naming the first bad option
 */
export function resolveResponseCacheOptions(options: ResponseCacheOptions): ResolvedResponseCacheOptions {
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
    throw new InvalidOptionError(
      'maxBodyBytes',
      `must be an integer ≥ 0, got ${JSON.stringify(maxBodyBytes)}`,
    )
  if (!Array.isArray(methods) || methods.some((m) => typeof m !== 'string'))
    throw new InvalidOptionError('methods', 'must be an array of method names')
  if (!Array.isArray(statuses) || statuses.some((s) => !Number.isInteger(s)))
    throw new InvalidOptionError('statuses', 'must be an array of status codes')
  if (!Array.isArray(vary) || vary.some((h) => typeof h !== 'string'))
    throw new InvalidOptionError('vary', 'must be an array of header names')
  if (key !== undefined && typeof key !== 'function')
    throw new InvalidOptionError('key', 'must be a function')
  if (options.refresh !== undefined && typeof options.refresh !== 'function')
    throw new InvalidOptionError('refresh', 'must be a function')
  return {
    cache: cache.namespace('http'),
    ttl: parseDuration(ttl, 'ttl'),
    methods: new Set(methods.map((m) => m.toUpperCase())),
    statuses: new Set(statuses),
    vary: vary.map((h) => h.toLowerCase()),
    maxBodyBytes,
    key,
    tags: tags === undefined ? undefined : typeof tags === 'function' ? tags : () => tags,
    now: options.clock ? () => options.clock!.now() : Date.now,
    refresh: options.refresh,
    revalidate: new Set(),
  }
}

/** Reads a request header (lower-case name); `null` when absent. */
export type HeaderReader = (name: string) => string | null | undefined

/** The default key: method (HEAD as GET) + path + sorted query + the `vary` headers' values. */
export function requestKey(
  request: Request,
  vary: string[] = [],
  header: HeaderReader = (name) => request.headers.get(name),
): string {
  const method = request.method === 'HEAD' ? 'GET' : request.method
  // The path and query straight from the URL text: a full URL parse per request is the larger
  // share of making a key, and most cached routes have no query.
  const url = request.url
  const pathStart = url.indexOf('/', url.indexOf('//') + 2)
  const hashStart = url.indexOf('#', pathStart)
  const anyQuery = url.indexOf('?', pathStart)
  const queryStart = hashStart !== -1 && anyQuery > hashStart ? -1 : anyQuery
  const pathEnd = queryStart === -1 ? (hashStart === -1 ? url.length : hashStart) : queryStart
  const pathname = pathStart === -1 ? '/' : url.slice(pathStart, pathEnd)
  let key = `${method} ${pathname}`
  if (queryStart !== -1) {
    // With its leading '?', which URLSearchParams drops (a query of "??" keeps its second one).
    const params = [
      ...new URLSearchParams(url.slice(queryStart, hashStart === -1 ? undefined : hashStart)),
    ].sort(([a, av], [b, bv]) => (a === b ? (av < bv ? -1 : av > bv ? 1 : 0) : a < b ? -1 : 1))
    const query = new URLSearchParams(params).toString()
    if (query) key += `?${query}`
  }
  for (const name of vary) key += `\n${name}: ${header(name) ?? ''}`
  return key
}

/** Directives of a `Cache-Control` header, lower-cased. */
const NO_DIRECTIVES: ReadonlySet<string> = new Set()

function directives(header: string | null): ReadonlySet<string> {
  if (!header) return NO_DIRECTIVES
  return new Set(header.split(',').map((d) => d.trim().split('=')[0]!.toLowerCase()))
}

/**
 * Answers a request from the cache, or by `produce` (storing what may be stored).
 * - methods outside `methods`, and requests with `Cache-Control: no-store`: BYPASS (not read, not stored);
 * - `Cache-Control: no-cache` on the request: revalidate (produce, store, MISS);
 * - responses with another status, `Cache-Control: private|no-store|no-cache`, `Set-Cookie`, or a
 *   body over `maxBodyBytes` pass through uncached;
 * - a stored response gets an `ETag` (its own, or a SHA-1 of the body); `If-None-Match` → 304.
 * `x-cache` and `Server-Timing` are set on every answer.
 * @param how.refresh produces a response in the background for a stale one (default: `options.refresh`)
 * @param how.header reads a request header: servers that have them as a plain object (Node's
 *   IncomingMessage) save building a Fetch `Headers` per request (default: `request.headers.get`)
 */
export async function respondCached(
  request: Request,
  produce: () => Promise<Response> | Response,
  options: ResolvedResponseCacheOptions,
  how: {
    refresh?: ((request: Request) => Promise<Response> | Response) | undefined
    header?: HeaderReader
  } = {},
): Promise<Response> {
  const started = performance.now()
  const refresh = 'refresh' in how ? how.refresh : options.refresh
  const header: HeaderReader = how.header ?? ((name) => request.headers.get(name))
  const method = request.method.toUpperCase()
  const requestDirectives = directives(header('cache-control') ?? null)
  if (!options.methods.has(method) || requestDirectives.has('no-store')) {
    return mark(await produce(), 'BYPASS', started)
  }
  const plainKey = options.key ? options.key(request) : requestKey(request, options.vary, header)
  const key = plainKey.length > LONGEST_PLAIN_KEY ? `sha256:${await sha256Hex(plainKey)}` : plainKey
  const tags = options.tags?.(request)
  const ttlMs = options.ttl
  const writeOptions = { ttl: ttlMs, ...(tags ? { tags } : {}) }
  const { cache } = options
  // A stale answer went out with no background refresh: this request produces the new one.
  if (requestDirectives.has('no-cache') || options.revalidate.delete(key)) {
    // Revalidate: produce anew, and store it for the next request.
    const fresh = await toStored(await produce(), options, method, ttlMs)
    if ('response' in fresh) return mark(fresh.response, 'BYPASS', started)
    await cache.set(key, fresh, writeOptions)
    return answer(method, header('if-none-match'), fresh, 'MISS', started)
  }
  let produced = false
  // Whether L1 has it (for Server-Timing's tier); getOrLoad then serves it and counts the hit.
  const inL1 = cache.peek(key) !== undefined
  const value = await cache.getOrLoad<StoredResponse | PassThrough>(
    key,
    async (_key, { refreshing }): Promise<StoredResponse | Uncached<PassThrough>> => {
      if (refreshing) {
        if (!refresh) {
          if (options.revalidate.size >= MAX_PENDING_REVALIDATIONS) options.revalidate.clear()
          options.revalidate.add(key)
          return uncached({ response: new Response(null) }) // nothing stored; nobody reads it
        }
        // `no-store`: when the refresh goes through this cache again (app.fetch), it produces.
        const again = new Request(request)
        again.headers.set('cache-control', 'no-store')
        const result = await toStored(await refresh(again), options, method, ttlMs)
        return 'response' in result ? uncached(result) : result
      }
      produced = true
      const result = await toStored(await produce(), options, method, ttlMs)
      return 'response' in result ? uncached(result) : result
    },
    writeOptions,
  )
  if (value === null) return mark(await produce(), 'BYPASS', started) // cannot happen: never a null marker
  if ('response' in value) {
    // Not stored. Its producer answers with it; a caller that joined that load produces its own.
    return produced ? mark(value.response, 'BYPASS', started) : mark(await produce(), 'BYPASS', started)
  }
  const status: CacheStatus = produced ? 'MISS' : value.freshUntil < options.now() ? 'STALE' : 'HIT'
  return answer(
    method,
    header('if-none-match'),
    value,
    status,
    started,
    produced ? 'origin' : inL1 ? 'l1' : 'l2',
  )
}

/** Reads a produced response into its stored form, or hands it back when it must not be stored. */
async function toStored(
  response: Response,
  options: ResolvedResponseCacheOptions,
  method: string,
  ttlMs: number,
): Promise<StoredResponse | PassThrough> {
  const responseDirectives = directives(response.headers.get('cache-control'))
  if (
    method === 'HEAD' || // no body to keep: GET fills the entry HEAD is answered from
    !options.statuses.has(response.status) ||
    responseDirectives.has('private') ||
    responseDirectives.has('no-store') ||
    responseDirectives.has('no-cache') ||
    response.headers.has('set-cookie')
  ) {
    return { response }
  }
  const read = await readUpTo(response, options.maxBodyBytes)
  if ('response' in read) return read
  const bytes = read.bytes
  const type = response.headers.get('content-type') ?? ''
  const textual = /^(text\/|application\/(json|javascript|xml|[\w.+-]+\+(json|xml)))/i.test(type)
  let body: string
  let encoding: 'utf8' | 'base64'
  const decoded = textual ? decodeUtf8(bytes) : undefined
  if (decoded !== undefined) {
    body = decoded
    encoding = 'utf8'
  } else {
    body = toBase64(bytes)
    encoding = 'base64'
  }
  const headers: Array<[string, string]> = []
  response.headers.forEach((value, name) => {
    const lower = name.toLowerCase()
    if (NOT_STORED.has(lower)) return
    if (lower === 'server-timing') {
      // A response produced through this cache again (a refresh) carries its marks: not stored.
      const own = value
        .split(',')
        .filter((entry) => !entry.trim().startsWith('tiercache;'))
        .join(',')
      if (own.trim()) headers.push([name, own.trim()])
      return
    }
    headers.push([name, value])
  })
  const etag = response.headers.get('etag') ?? `"${await sha1Hex(bytes)}"`
  // The fresh time as the cache will apply it, give or take its jitter (for STALE only).
  return { status: response.status, headers, body, encoding, etag, freshUntil: options.now() + ttlMs }
}

/**
 * Reads a body up to `limit` bytes. Past it, the response is handed back whole: what was read
 * first, then the rest of the stream, so a large body is never buffered.
 */
async function readUpTo(response: Response, limit: number): Promise<{ bytes: Uint8Array } | PassThrough> {
  if (!response.body) return { bytes: new Uint8Array(0) }
  const declared = Number(response.headers.get('content-length') ?? Number.NaN)
  if (declared > limit) return { response }
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    chunks.push(value)
    total += value.byteLength
    if (total > limit) {
      const rest = new ReadableStream<Uint8Array>({
        start(controller) {
          for (const chunk of chunks) controller.enqueue(chunk)
        },
        async pull(controller) {
          const next = await reader.read()
          if (next.done) controller.close()
          else controller.enqueue(next.value)
        },
        cancel(reason) {
          return reader.cancel(reason)
        },
      })
      return {
        response: new Response(rest, {
          status: response.status,
          statusText: response.statusText,
          headers: response.headers,
        }),
      }
    }
  }
  const bytes = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.byteLength
  }
  return { bytes }
}

/**
 * The answer from a stored response: 304 when the client has it, else the body. Its headers are
 * complete before the Response is built: touching `headers` afterwards makes some servers
 * (@hono/node-server) give up their fast path and write the body as a stream.
 */
function answer(
  method: string,
  ifNoneMatch: string | null | undefined,
  stored: StoredResponse,
  status: CacheStatus,
  started: number,
  tier: 'l1' | 'l2' | 'origin' = 'origin',
): Response {
  const notModified = matches(ifNoneMatch ?? null, stored.etag)
  // A plain object: servers that write it as is (@hono/node-server) skip building a Headers.
  const headers: Record<string, string> = {}
  for (const [name, value] of stored.headers) {
    const lower = name.toLowerCase()
    if (lower === 'etag' || (notModified && lower === 'content-type')) continue
    headers[lower] = lower in headers ? `${headers[lower]}, ${value}` : value
  }
  headers.etag = stored.etag
  headers['x-cache'] = status
  headers['server-timing'] =
    'server-timing' in headers
      ? `${headers['server-timing']}, ${timing(status, tier, started)}`
      : timing(status, tier, started)
  if (notModified) return new Response(null, { status: 304, headers })
  const body = method === 'HEAD' ? null : stored.encoding === 'utf8' ? stored.body : bytesOf(stored)
  return new Response(body, { status: stored.status, headers })
}

/**
 * A binary body's bytes, decoded once per stored entry (L1 hands out the same object each hit).
 * (Caching the headers the same way was measured slower: spreading a prepared object into each
 * answer cost more than building it, 0.64× against 0.76× of the bare route in bench/hono.)
 */
const decoded = new WeakMap<StoredResponse, BodyInit>()

function bytesOf(stored: StoredResponse): BodyInit {
  let bytes = decoded.get(stored)
  if (!bytes) {
    bytes = fromBase64(stored.body) as BodyInit
    decoded.set(stored, bytes)
  }
  return bytes
}

/** `If-None-Match` against an ETag (weak comparison, `*` matches anything). */
function matches(header: string | null, etag: string): boolean {
  if (!header) return false
  const bare = (tag: string) => tag.trim().replace(/^W\//, '')
  return header.split(',').some((tag) => tag.trim() === '*' || bare(tag) === bare(etag))
}

/** The `Server-Timing` entry: the status, where the answer came from, and tiercache's share of the time (ms). */
function timing(status: CacheStatus, tier: string, started: number): string {
  return `tiercache;desc="${status} ${tier}";dur=${(performance.now() - started).toFixed(2)}`
}

/** Sets `x-cache` and `Server-Timing` on a produced response (the handler's own, passed through or stored). */
function mark(response: Response, status: CacheStatus, started: number): Response {
  const value = timing(status, 'origin', started)
  let out = response
  try {
    out.headers.set('x-cache', status)
  } catch {
    // Immutable headers (a fetch() response): copy it once.
    out = new Response(response.body, response)
    out.headers.set('x-cache', status)
  }
  out.headers.append('server-timing', value)
  return out
}

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return undefined
  }
}

function toBase64(bytes: Uint8Array): string {
  let binary = ''
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  }
  return btoa(binary)
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text)
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes
}

async function sha1Hex(bytes: Uint8Array): Promise<string> {
  return hex(await globalThis.crypto.subtle.digest('SHA-1', bytes as BufferSource))
}

async function sha256Hex(text: string): Promise<string> {
  return hex(await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)))
}

function hex(digest: ArrayBuffer): string {
  let out = ''
  for (const byte of new Uint8Array(digest)) out += byte.toString(16).padStart(2, '0')
  return out
}
