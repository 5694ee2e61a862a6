/**
 * Whole-response caching over the Fetch API (`Request` → `Response`), shared by the Hono, Lambda
 * and edge adapters: which requests and responses are cacheable, the key, the stored form, ETags
 * and 304s, `x-cache` and `Server-Timing`. Runs unchanged on Node, Workers and Vercel Edge (no
 * Node-only API: base64 and hashing go through `btoa`/`atob` and Web Crypto).
 */
import { l1ValueOf } from '../cache/internals.js'
import { type Uncached, uncached } from '../cache/uncached.js'
import { LoaderError } from '../errors.js'
import { decodeUtf8, fromBase64, readUpTo, sha1Base64Url, sha256Hex, toBase64 } from './body.js'
import type { ResolvedResponseCacheOptions } from './options.js'
import { directives, type HeaderReader, requestKey } from './request-key.js'

/** How a response was answered. */
export type CacheStatus = 'HIT' | 'MISS' | 'STALE' | 'BYPASS'

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
 * Answers a request from the cache, or by `produce` (storing what may be stored).
 * - methods outside `methods`, requests with `Cache-Control: no-store`, and requests with credentials
 *   (`Authorization`) that the key does not hold: BYPASS (not read, not stored; see `withCredentials`);
 * - `Cache-Control: no-cache` on the request: revalidate (a `forceFresh` load of the key: produced
 *   once for concurrent revalidations, stored by a fenced fill; MISS);
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
  const header: HeaderReader = how.header ?? ((name) => request.headers.get(name))
  // A miss computes the key again below: a few hundred nanoseconds beside its tier-2 read, and the
  // hit path stays one synchronous function that adapters can call on their own.
  const hit = answerFromL1(request, options, header)
  if (hit) return hit
  const started = performance.now()
  const refresh = 'refresh' in how ? how.refresh : options.refresh
  const method = request.method.toUpperCase()
  const requestDirectives = directives(header('cache-control') ?? null)
  if (!options.methods.has(method) || requestDirectives.has('no-store') || withCredentials(options, header)) {
    return mark(await produce(), 'BYPASS', started)
  }
  const key =
    keyOf(request, options, header) ?? `http:sha256:${await sha256Hex(plainKeyOf(request, options, header))}`
  const ttlMs = options.ttl
  // Revalidate (`no-cache`, or a stale answer went out with no background refresh): produce anew
  // through the cache's forced load, not beside it. Concurrent revalidations of a key then share
  // one production (a client's header cannot make every request run the handler), and its store
  // is a fenced fill (a write that lands while the handler runs wins over what it read).
  const forceFresh = requestDirectives.has('no-cache') || options.revalidate.delete(key)
  // Which tier answers: L1's own object (as after a coherence sync, which the stats count as an
  // L1 hit), or a new one decoded from tier 2.
  const inL1 = l1ValueOf(options.cache, key)
  let produced = false
  const value = await options.cache
    .getOrLoad<StoredResponse | PassThrough>(
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
      { ttl: ttlMs, forceFresh, tags: options.tags?.(request) },
    )
    .catch(unwrapHandlerError)
  if (value === null) return mark(await produce(), 'BYPASS', started) // cannot happen: never a null marker
  if ('response' in value) {
    // Not stored. Its producer answers with it; a caller that joined that load produces its own.
    return produced ? mark(value.response, 'BYPASS', started) : mark(await produce(), 'BYPASS', started)
  }
  const status: CacheStatus = produced ? 'MISS' : value.freshUntil < options.now() ? 'STALE' : 'HIT'
  const tier = produced ? 'origin' : value === inL1 ? 'l1' : 'l2'
  return answer(method, header('if-none-match'), value, status, started, tier)
}

/**
 * The loader here only runs the handler (and reads what it answered): its failure is the
 * handler's own error, thrown as the handler threw it, as on the paths that call the handler
 * directly (a bypass, a revalidation), not wrapped in a `LoaderError` keyed `http:...`. An app's
 * error handling that tells its errors apart by class (an `HttpError(404)`) keeps working.
 */
function unwrapHandlerError(error: unknown): never {
  throw error instanceof LoaderError ? error.cause : error
}

/**
 * The synchronous half of `respondCached`: the answer when L1 has the response (an `x-cache: HIT`,
 * counted as a `getOrLoad` L1 hit), else `undefined` and nothing counted. Adapters call it first
 * so a hit costs no await; `respondCached` calls it too.
 *
 * Responses are kept under keys that start with `http:` in the cache given, not in a namespace
 * view: a namespace is a version tag that every L1 hit would check (measured: the larger part of
 * a hit's cost in the cache). A namespace the caller passed still applies.
 */
export function answerFromL1(
  request: Request,
  options: ResolvedResponseCacheOptions,
  header: HeaderReader = (name) => request.headers.get(name),
): Response | undefined {
  const started = performance.now()
  // Servers hand GET over as the literal it is: upper-casing it anyway made a new string per hit,
  // which the method Set then had to hash (about 25 ns on its own).
  const given = request.method
  const method = given === 'GET' ? 'GET' : given.toUpperCase()
  if (!options.methods.has(method) || withCredentials(options, header)) return undefined
  const cacheControl = header('cache-control')
  if (cacheControl) {
    const asked = directives(cacheControl)
    if (asked.has('no-store') || asked.has('no-cache')) return undefined // bypass, revalidate: respondCached's
  }
  const key = keyOf(request, options, header)
  if (key === undefined) return undefined // a long key is hashed, which is async: respondCached's
  // Served stale with no background refresh: the next request for it produces (respondCached).
  if (options.revalidate.size > 0 && options.revalidate.has(key)) return undefined
  // L1 only ever holds stored responses (a pass-through is never cached), and only within their
  // fresh time: an L1 hit is a HIT.
  const stored = options.cache.getFromL1<StoredResponse>(key)
  if (!stored) return undefined
  const ifNoneMatch = header('if-none-match')
  const hundredths = Math.round((performance.now() - started) * 100)
  if (ifNoneMatch || method === 'HEAD' || hundredths >= 100)
    return answer(method, ifNoneMatch, stored, 'HIT', started, 'l1')
  // The common hit: its headers differ from one answer to the next only by Server-Timing's dur,
  // in hundredths of a millisecond and nearly always under one. One headers object per entry and
  // dur value serves them all (built on first use, a handful per entry; servers copy a headers
  // object, never change it): a header object and value built per answer measured about 1 µs of
  // server CPU per request on @hono/node-server, 5 % of a cached answer.
  let byDur = hitHeaders.get(stored)
  if (!byDur) {
    byDur = []
    hitHeaders.set(stored, byDur)
  }
  byDur[hundredths] ??= flatValues(answerHeaders(stored, false, 'HIT', L1_HIT_TIMINGS[hundredths]!))
  return new Response(bodyOf(stored), { status: stored.status, headers: byDur[hundredths] })
}

/**
 * The same headers with every value a flat string. Values built by concatenation (the ETag, a
 * decoded entry's fields) are V8 cons strings, which Node re-walks each time it checks and copies
 * them into a response head: for headers reused on every hit, flatten them once.
 */
function flatValues(headers: Record<string, string>): Record<string, string> {
  for (const name in headers) headers[name] = JSON.parse(JSON.stringify(headers[name])) as string
  return headers
}

/** URLs whose keys are remembered, at most (the memo is emptied past it). */
const MAX_REMEMBERED_URLS = 10_000

/**
 * A request's cache key (`http:` + its plain key), or `undefined` when the plain key is too long
 * and must be hashed. With the default key and no `vary`, the key of a URL seen before comes from
 * a memo: the same string object every time, so the L1 lookup finds its hash already computed. A
 * key built afresh is a concatenation V8 must flatten and hash on each lookup, which measured
 * as the largest part of a hit's own cost (about 120 of 210 ns).
 */
function keyOf(
  request: Request,
  options: ResolvedResponseCacheOptions,
  header: HeaderReader,
): string | undefined {
  if (options.key || options.vary.length > 0) {
    const plainKey = plainKeyOf(request, options, header)
    return plainKey.length > LONGEST_PLAIN_KEY ? undefined : `http:${plainKey}`
  }
  const url = request.method === 'GET' ? request.url : `${request.method} ${request.url}`
  const memo = options.keysByUrl
  const known = memo.get(url)
  if (known !== undefined) return known
  const plainKey = plainKeyOf(request, options, header)
  if (plainKey.length > LONGEST_PLAIN_KEY) return undefined
  if (memo.size >= MAX_REMEMBERED_URLS) memo.clear()
  const key = `http:${plainKey}`
  memo.set(url, key)
  return key
}

/** The key before its `http:` prefix: the caller's `key`, or method + path + sorted query (+ `vary`). */
function plainKeyOf(request: Request, options: ResolvedResponseCacheOptions, header: HeaderReader): string {
  return options.key ? options.key(request) : requestKey(request, options.vary, header)
}

/** Each stored entry's headers for a plain L1 hit, by Server-Timing dur (hundredths of a ms). */
const hitHeaders = new WeakMap<StoredResponse, Array<Record<string, string>>>()

/** `tiercache;desc="HIT l1";dur=0`, `dur=0.01` ... `dur=0.99`. */
const L1_HIT_TIMINGS = Array.from({ length: 100 }, (_, n) => timingEntry('HIT', 'l1', n))

/**
 * Whether the request carries credentials (`Authorization`) that its key does not hold. Answered
 * from a shared cache, or stored in it, one user's `/me`, or an API's answer to one token, would
 * be served to the next caller (RFC 9111 §3.5 allows it only for responses marked `public`,
 * `s-maxage` or `must-revalidate`; tiercache leaves such requests to the handler whatever the
 * response says). `vary: ['authorization']` keys by it instead, and a `key` function of the
 * caller's answers for what it holds (a key without the token, for answers that are the same
 * for every caller).
 */
function withCredentials(options: ResolvedResponseCacheOptions, header: HeaderReader): boolean {
  return !!header('authorization') && !options.key && !options.vary.includes('authorization')
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
    response.headers.has('set-cookie') ||
    // Varying on a request header the key does not hold (or on `*`), it would be served to
    // requests it does not fit (RFC 9111 §4.1): a language, a Content-Encoding. A key function of
    // the caller's own answers for what it holds.
    (!options.key &&
      !!response.headers
        .get('vary')
        ?.split(',')
        .some((name) => !['', ...options.vary].includes(name.trim().toLowerCase())))
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
      if (own.trim()) headers.push([lower, own.trim()])
      return
    }
    headers.push([lower, value])
  })
  const etag = response.headers.get('etag') ?? `"${await sha1Base64Url(bytes)}"`
  const now = options.now()
  // Answers from the entry carry the time the response was made (RFC 9110 §6.6.1), not the time
  // of the answer, which the server would add: a CDN or browser behind this cache then counts the
  // response's max-age from when it was made (RFC 9111 §4.2.3, its apparent age), not from when
  // it got an answer tiercache may have kept for most of its own fresh time.
  if (!response.headers.has('date')) headers.push(['date', new Date(now).toUTCString()])
  // The fresh time as the cache will apply it, give or take its jitter (for STALE only).
  return { status: response.status, headers, body, encoding, etag, freshUntil: now + ttlMs }
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
  const headers = answerHeaders(stored, notModified, status, timing(status, tier, started))
  if (notModified) return new Response(null, { status: 304, headers })
  return new Response(method === 'HEAD' ? null : bodyOf(stored), { status: stored.status, headers })
}

/** An answer's headers, as a plain object: servers that write it as is (@hono/node-server) skip building a Headers. */
function answerHeaders(
  stored: StoredResponse,
  notModified: boolean,
  status: CacheStatus,
  serverTiming: string,
): Record<string, string> {
  const headers: Record<string, string> = {}
  // Stored names are lower-case (toStored).
  for (const [name, value] of stored.headers) {
    if (name === 'etag' || (notModified && name === 'content-type')) continue
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value
  }
  headers.etag = stored.etag
  headers['x-cache'] = status
  headers['server-timing'] =
    'server-timing' in headers ? `${headers['server-timing']}, ${serverTiming}` : serverTiming
  return headers
}

/** A stored body as a Response body: the text, or the bytes of a binary one. */
function bodyOf(stored: StoredResponse): BodyInit {
  return stored.encoding === 'utf8' ? stored.body : bytesOf(stored)
}

/** A binary body's bytes, decoded once per stored entry (L1 hands out the same object each hit). */
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
  return timingEntry(status, tier, Math.round((performance.now() - started) * 100))
}

/** The entry for a time in hundredths of a millisecond (n / 100 prints as its decimal; toFixed costs twice as much). */
function timingEntry(status: CacheStatus, tier: string, hundredths: number): string {
  return `tiercache;desc="${status} ${tier}";dur=${hundredths / 100}`
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
