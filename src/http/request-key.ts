/**
 * What a request is cached under: method (HEAD as GET), path, sorted query and chosen headers; and
 * the request's `Cache-Control` directives.
 */

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

export function directives(header: string | null): ReadonlySet<string> {
  if (!header) return NO_DIRECTIVES
  return new Set(header.split(',').map((d) => d.trim().split('=')[0]!.toLowerCase()))
}
