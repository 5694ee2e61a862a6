/**
 * AWS Lambda HTTP events as Fetch API requests, and responses back as the results each event
 * source expects: API Gateway REST (payload v1), HTTP API and Function URLs (payload v2), and
 * Application Load Balancer (single- or multi-value headers).
 */
import { STATUS_CODES } from 'node:http'
import type {
  ALBEvent,
  ALBResult,
  APIGatewayProxyEvent,
  APIGatewayProxyEventV2,
  APIGatewayProxyResult,
  APIGatewayProxyStructuredResultV2,
} from 'aws-lambda'

/** The HTTP event sources response caching understands. */
export type HttpEvent = APIGatewayProxyEvent | APIGatewayProxyEventV2 | ALBEvent

/** Which kind of HTTP event this is, or undefined for any other event (SQS, schedules...). */
export function httpEventKind(event: unknown): 'v1' | 'v2' | 'alb' | undefined {
  if (typeof event !== 'object' || event === null) return undefined
  const e = event as Record<string, unknown> & { requestContext?: Record<string, unknown> }
  if (e.version === '2.0' && typeof (e.requestContext?.http as { method?: unknown })?.method === 'string')
    return 'v2'
  if (typeof e.httpMethod === 'string' && e.requestContext && 'elb' in e.requestContext) return 'alb'
  if (typeof e.httpMethod === 'string' && typeof e.path === 'string') return 'v1'
  return undefined
}

function decodeBody(body: unknown, base64: boolean): BodyInit | null {
  if (body === null || body === undefined || body === '') return null
  // API Gateway answers 502 for such a result; stored, it would have been "[object Object]".
  if (typeof body !== 'string')
    throw new TypeError(
      `tiercache/lambda: a result's body must be a string (JSON.stringify it), got ${Array.isArray(body) ? 'an array' : typeof body}`,
    )
  if (!base64) return body
  const binary = atob(body)
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes
}

/** An HTTP event as a `Request` (the body is decoded when the event carries it in base64). */
export function toRequest(event: HttpEvent, kind: 'v1' | 'v2' | 'alb'): Request {
  const headers = new Headers()
  if (kind === 'v2') {
    const e = event as APIGatewayProxyEventV2
    for (const [name, value] of Object.entries(e.headers ?? {})) if (value !== undefined) headers.set(name, value)
    if (e.cookies?.length) headers.set('cookie', e.cookies.join('; '))
    const domain = e.requestContext.domainName
    // A Function URL keeps the path encoded; an HTTP API decodes it.
    const path = urlPath(e.rawPath, !domain?.includes('.lambda-url.'))
    // A `#` would end the query and drop what follows it into a fragment, out of the key.
    const query = e.rawQueryString ? `?${e.rawQueryString.replace(/#/g, '%23')}` : ''
    const url = `https://${hostOf(headers, domain)}${path}${query}`
    if (hasDotSegment(e.rawPath)) headers.set('cache-control', 'no-store')
    const method = e.requestContext.http.method
    const body = method === 'GET' || method === 'HEAD' ? null : decodeBody(e.body, e.isBase64Encoded)
    return new Request(url, { method, headers, body })
  }
  const e = event as APIGatewayProxyEvent | ALBEvent
  if (e.multiValueHeaders) {
    for (const [name, values] of Object.entries(e.multiValueHeaders))
      for (const value of values ?? []) headers.append(name, value)
  } else {
    for (const [name, value] of Object.entries(e.headers ?? {})) if (value !== undefined) headers.set(name, value)
  }
  const query = new URLSearchParams()
  // ALB passes query parameters as they came (still percent-encoded); API Gateway decodes them.
  const decode = (text: string) => (kind === 'alb' ? decodeQueryPart(text) : text)
  if (e.multiValueQueryStringParameters) {
    for (const [name, values] of Object.entries(e.multiValueQueryStringParameters))
      for (const value of values ?? []) query.append(decode(name), decode(value))
  } else {
    for (const [name, value] of Object.entries(e.queryStringParameters ?? {}))
      if (value !== undefined) query.append(decode(name), decode(value))
  }
  const search = query.toString()
  // An HTTP API's payload 1.0 (`version: '1.0'`) has the path decoded, as its 2.0 does.
  const path = urlPath(e.path, (e as { version?: string }).version === '1.0')
  const domain = (e.requestContext as { domainName?: string } | undefined)?.domainName
  const url = `https://${hostOf(headers, domain)}${path}${search ? `?${search}` : ''}`
  if (hasDotSegment(e.path)) headers.set('cache-control', 'no-store')
  const method = e.httpMethod
  const body = method === 'GET' || method === 'HEAD' ? null : decodeBody(e.body, e.isBase64Encoded)
  return new Request(url, { method, headers, body })
}

/**
 * What never appears literally in an encoded path (a URL parser would read `?`, `#`, `\\` as
 * syntax, or change the rest): escaped so a URL keeps it as path. In a decoded path, `%` as well.
 */
const ESCAPED_IN_ENCODED = /[\0-\x20"#<>?\\^`{|}\x7F-\u{10FFFF}]/gu
const ESCAPED_IN_DECODED = new RegExp(`%|${ESCAPED_IN_ENCODED.source}`, 'gu')

/**
 * The event's path as the path of the request's URL, so that two paths the handler tells apart
 * never share a cache key. Pasted in as it came, a path was read as URL syntax: HTTP APIs hand it
 * over decoded (`/users/me%3Fadmin=true` arrives as `/users/me?admin=true`, `/orders%23` as
 * `/orders#`, which then swallowed the query string), where REST APIs, Function URLs and ALB keep
 * it encoded. What cannot be literal in an encoded path is escaped; in a decoded one `%` too, else
 * `/a%3Fb` (sent as `/a%253Fb`) and `/a?b` would meet. A lone surrogate (valid in an event's JSON)
 * is escaped as U+FFFD's bytes, as a URL would take it.
 */
function urlPath(path: string, decoded: boolean): string {
  const escaped = path.replace(decoded ? ESCAPED_IN_DECODED : ESCAPED_IN_ENCODED, (ch) => {
    let out = ''
    for (const byte of new TextEncoder().encode(ch)) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
    return out
  })
  return escaped.startsWith('/') ? escaped : `/${escaped}`
}

/**
 * Whether the path has a `.` or `..` segment (`%2e` counts: a URL parser reads it as a dot). A URL
 * resolves them away (`/x/../api` is `/api`), so such a request would share the key of a path the
 * handler tells apart (a catch-all route answering `/x/../api` would have filled `/api`'s entry):
 * it is marked `no-store`, answered by the handler, neither read from the cache nor stored.
 */
function hasDotSegment(path: string): boolean {
  return path.split('/').some((segment) => /^(\.|%2e){1,2}$/i.test(segment))
}

/**
 * The request's host: the Host header when it is one (ALB passes on whatever a client sent, and
 * `shop.example/admin` would have moved the URL's path, and so the key, to `/admin/...`), else the
 * event's domain name.
 */
function hostOf(headers: Headers, domainName: string | undefined): string {
  const host = headers.get('host')
  if (host !== null && /^([a-z\d-]+(\.[a-z\d-]+)*\.?|\[[\da-f:.]+\])(:\d{1,5})?$/i.test(host)) return host
  return domainName || 'lambda.local'
}

/**
 * A query name or value as ALB sent it, decoded. A malformed escape (`%zz`, half a UTF-8 sequence)
 * is kept as it came, as URLSearchParams does: decodeURIComponent's URIError would have failed the
 * whole invocation on a query string anyone can type.
 */
function decodeQueryPart(text: string): string {
  const spaced = text.replace(/\+/g, ' ')
  try {
    return decodeURIComponent(spaced)
  } catch {
    return spaced
  }
}

/** Any handler result: a structured one (with `statusCode`), or for v2 a bare value sent as JSON. */
type HandlerResult = APIGatewayProxyResult | APIGatewayProxyStructuredResultV2 | ALBResult | unknown

/** A handler's result as a `Response`. */
export function toResponse(result: HandlerResult, kind: 'v1' | 'v2' | 'alb'): Response {
  // A Fetch Response (a handler that already speaks Fetch, such as a Hono app's): taken as it is.
  // As a v2 "any value" it would have become the JSON text "{}".
  if (result instanceof Response) return result
  const structured = typeof result === 'object' && result !== null && 'statusCode' in result
  if (!structured) {
    // Payload v2 lets a handler return any value: API Gateway sends it as JSON with status 200.
    if (kind === 'v2') {
      const body = typeof result === 'string' ? result : JSON.stringify(result ?? null)
      return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } })
    }
    throw new TypeError('tiercache/lambda: an HTTP handler must return { statusCode, headers?, body? }')
  }
  const r = result as APIGatewayProxyResult &
    APIGatewayProxyStructuredResultV2 & { multiValueHeaders?: Record<string, Array<string | number | boolean>> }
  const headers = new Headers()
  for (const [name, value] of Object.entries(r.headers ?? {})) headers.set(name, String(value))
  for (const [name, values] of Object.entries(r.multiValueHeaders ?? {})) {
    headers.delete(name)
    for (const value of values) headers.append(name, String(value))
  }
  for (const cookie of r.cookies ?? []) headers.append('set-cookie', cookie)
  const status = r.statusCode ?? 200
  const nullBody = status === 204 || status === 304 || status < 200
  let body = nullBody ? null : decodeBody(r.body, r.isBase64Encoded === true)
  // A string body makes the Response add `content-type: text/plain;charset=UTF-8`. A result that
  // set none must not gain one: API Gateway sends such a body as application/json, and a JSON
  // handler written without headers (the common case) would have been answered as text.
  if (typeof body === 'string' && !headers.has('content-type')) body = new TextEncoder().encode(body)
  return new Response(body, { status, headers })
}

const TEXTUAL = /^(text\/|application\/(json|javascript|xml|[\w.+-]+\+(json|xml)))/i

/** The bytes as text when they are valid UTF-8, else false. */
function utf8(bytes: Uint8Array): string | false {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return false
  }
}

/** An ALB result's status line text: `404 Not Found`, not `404 OK` (a Response's statusText is often empty). */
function statusDescription(response: Response): string {
  return `${response.status} ${response.statusText || STATUS_CODES[response.status] || 'Unknown'}`
}

function encodeBytes(bytes: Uint8Array): string {
  let binary = ''
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(binary)
}

/** A `Response` as the result the event's source expects (the multi-value form when the event used it). */
export async function fromResponse(
  response: Response,
  kind: 'v1' | 'v2' | 'alb',
  event: HttpEvent,
): Promise<APIGatewayProxyResult | APIGatewayProxyStructuredResultV2 | ALBResult> {
  const bytes = new Uint8Array(await response.arrayBuffer())
  const type = response.headers.get('content-type')
  // Without a content type (a result that set none), a body that is valid UTF-8 goes back as the
  // text it came as: base64 would reach a REST API's client as base64 unless binary media types
  // are configured.
  const text =
    bytes.length === 0 || (type !== null && TEXTUAL.test(type))
      ? new TextDecoder().decode(bytes)
      : type === null && utf8(bytes)
  const isBase64Encoded = text === false
  const body = text === false ? encodeBytes(bytes) : text
  const headers: Record<string, string> = {}
  const multi: Record<string, string[]> = {}
  const cookies: string[] = response.headers.getSetCookie()
  response.headers.forEach((value, name) => {
    if (name === 'set-cookie') return
    headers[name] = value
    multi[name] = [value]
  })
  if (kind === 'v2') {
    return { statusCode: response.status, headers, ...(cookies.length ? { cookies } : {}), body, isBase64Encoded }
  }
  if (cookies.length) multi['set-cookie'] = cookies
  if ('multiValueHeaders' in event && event.multiValueHeaders) {
    const result = { statusCode: response.status, multiValueHeaders: multi, body, isBase64Encoded }
    return kind === 'alb' ? { ...result, statusDescription: statusDescription(response) } : result
  }
  // Single-value headers: one Set-Cookie fits; more need the multi-value form (which v1 accepts beside).
  if (cookies.length === 1) headers['set-cookie'] = cookies[0]!
  const result = {
    statusCode: response.status,
    headers,
    ...(cookies.length > 1 && kind === 'v1' ? { multiValueHeaders: { 'set-cookie': cookies } } : {}),
    body,
    isBase64Encoded,
  }
  return kind === 'alb' ? { ...result, statusDescription: statusDescription(response) } : result
}
