/**
 * The proxy's hot routes without Hono: `POST /`, `POST /pipeline` and `POST /multi-exec` (what
 * `@upstash/redis` sends) and plain path-style `GET /<cmd>/<arg>...` requests. They are answered
 * by the raw HTTP/1.1 front (`http1-front.ts`, `rawCommandRoutes`) when it reads the request, else
 * on node:http (`withCommandFastPath`); everything else goes to the Hono app.
 *
 * Why: through Hono on @hono/node-server a single command cost about twice what the same work
 * costs on a bare node:http handler (a Fetch Request and Response per request, a middleware
 * chain of promises, header objects copied twice). Measured on this machine (bench/proxy, one
 * process, 50 connections): 0.53× webdis through Hono; a bare node:http + ioredis handler with no
 * checks at all reached 0.85–0.99× webdis. The work itself — tokens, authorization, deadline,
 * encoding, metrics, logs — is `CommandService`'s, shared with the Hono routes, so every way in
 * answers the same bytes (a test sends the same requests each way and compares).
 */
import type { IncomingHttpHeaders, RequestListener, ServerResponse } from 'node:http'
import type { CommandService, EncodedAnswer } from './command-service.js'
import { isKnownCommand } from './command-table.js'
import type { RawRoutes } from './http1-front.js'
import { readIncomingBodyThen } from './read-body.js'
import { commandFromPath } from './request-body.js'
import type { Grant } from './tokens.js'

/** The body routes answered here; anything with a query string (`?_token=`) goes to Hono. */
const FAST_PATHS = new Set(['/', '/pipeline', '/multi-exec'])

/**
 * The characters of a path-style URL taken here: those a URL parser keeps as they are or only
 * percent-encodes (`{}` of hash tags), so splitting the raw URL gives the segments Hono's route
 * gets from `new URL(...).pathname`. A query string, `#`, `\`, spaces, quotes and non-ASCII go to
 * Hono.
 */
const PLAIN_URL = /^\/[\w\-.~!$&'()*+,;=:@%{}/]*$/
/** `.` and `..`, also percent-encoded: a URL parser resolves them, so those requests go to Hono. */
const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i
const NO_QUERY = new URLSearchParams()

/** A route the fast path takes: a body route, or the segments of a path-style GET. */
export type FastRoute = '/' | '/pipeline' | '/multi-exec' | string[]

/**
 * The fast path's route for a request, or undefined to leave it to Hono: `POST` to a body route
 * with no query string, or a plain path-style `GET` (`pathStyleSegments`).
 */
export function takeFastRoute(method: string | undefined, url: string): FastRoute | undefined {
  if (method === 'POST') return FAST_PATHS.has(url) ? (url as '/' | '/pipeline' | '/multi-exec') : undefined
  return method === 'GET' ? pathStyleSegments(url) : undefined
}

/**
 * Wraps the Hono app's node:http listener: `POST /`, `/pipeline`, `/multi-exec` and plain
 * path-style GETs are answered by `service` here, every other request by `fallback`.
 */
export function withCommandFastPath(service: CommandService, fallback: RequestListener): RequestListener {
  return (request, response) => {
    const route = takeFastRoute(request.method, request.url ?? '')
    if (route === undefined) {
      fallback(request, response)
      return
    }
    const headers = request.headers
    answer(
      service,
      route,
      one(headers, 'authorization'),
      one(headers, 'x-request-id'),
      one(headers, 'upstash-response-format'),
      one(headers, 'upstash-encoding'),
      (done) => readIncomingBodyThen(request, service.limits.maxBodyBytes, done),
      (status, contentType, body, syncToken, requestId, close) => {
        // Refused before its body was read (401, 403 ...): read and drop it so the connection
        // can carry the next request. A 413 closes the connection instead. A GET's body, if
        // any, is not an argument (as on the Hono route): Node discards a body nobody read once
        // the response is done; resuming it on every GET cost 1.2 KB of stream garbage.
        if (status !== 200 && !close && !request.readableEnded) request.resume()
        write(response, status, contentType, body, syncToken, requestId, close)
      },
    )
  }
}

/**
 * The fast path's routes for the raw HTTP/1.1 front (`http1-front.ts`): the same requests as
 * `withCommandFastPath`, answered from the front's parsed head and whole body.
 */
export function rawCommandRoutes(service: CommandService): RawRoutes<FastRoute> {
  return {
    take: takeFastRoute,
    answer: (head, body, reply) =>
      answer(
        service,
        head.route,
        head.authorization,
        head.requestId,
        head.responseFormat,
        head.encoding,
        // Decoded at once: the front's buffer is only valid during this call.
        (done) => done(undefined, body.length === 0 ? '' : body.toString('utf8')),
        (status, contentType, body, syncToken, requestId, close) =>
          reply({
            status,
            contentType,
            body,
            // Both plain ASCII: a fresh token, and a request id of [\w=-] (CommandService.requestId).
            headers: `upstash-sync-token: ${syncToken}\r\nx-request-id: ${requestId}\r\n`,
            close,
          }),
      ),
  }
}

/**
 * The still percent-encoded segments of a path-style request this fast path takes, or undefined
 * to leave it to Hono: a query string (`?_token=`, `?EX=10`), characters a URL parser rewrites,
 * dot segments, or a first segment that is no Redis command (`/healthz`; Hono answers the 404).
 */
export function pathStyleSegments(url: string): string[] | undefined {
  if (url.length < 2 || !PLAIN_URL.test(url)) return undefined
  const segments = url.slice(1).split('/')
  for (const segment of segments) if (DOT_SEGMENT.test(segment)) return undefined
  let name = segments[0]!
  if (name.includes('%')) {
    try {
      name = decodeURIComponent(name)
    } catch {
      return undefined
    }
  }
  return isKnownCommand(name.toLowerCase()) ? segments : undefined
}

/** Writes one answer: status, content type, body, the proxy's two headers, whether to close. */
type Respond = (
  status: number,
  contentType: string,
  body: string | Uint8Array,
  syncToken: string,
  requestId: string,
  close: boolean,
) => void

/**
 * One request, in callbacks rather than async functions: of about 15 KB of garbage a single
 * command made, 2 KB were this path's promises and async frames (the reason is in `singleThen`).
 * `readBody` is called only for the body routes.
 */
function answer(
  service: CommandService,
  route: FastRoute,
  authorization: string | undefined,
  presentedRequestId: string | undefined,
  format: string | undefined,
  encoding: string | undefined,
  readBody: (done: (error: Error | undefined, text?: string) => void) => void,
  respond: Respond,
): void {
  const started = performance.now()
  const requestId = service.requestId(presentedRequestId)
  const syncToken = service.begin()
  const bodyRoute = typeof route === 'string'
  const refuse = (error: unknown): number => {
    const failure = service.errorAnswer(error, requestId)
    respond(failure.status, 'application/json', failure.body, syncToken, requestId, failure.closeConnection)
    return failure.status
  }
  const finish = (error: unknown, encoded?: EncodedAnswer): void => {
    let status = 200
    try {
      if (error === undefined) {
        const { contentType, body } = encoded as EncodedAnswer
        respond(200, contentType, body, syncToken, requestId, false)
      } else {
        status = refuse(error)
      }
    } catch (writeError) {
      status = refuse(writeError)
    } finally {
      service.end(bodyRoute ? 'POST' : 'GET', bodyRoute ? route : '/<command>', status, started, requestId)
    }
  }
  let grant: Grant
  try {
    grant = service.authenticate(authorization, undefined)
  } catch (error) {
    finish(error)
    return
  }
  if (bodyRoute) {
    readBody((error, text) => {
      if (error !== undefined) finish(error)
      else service.answerBodyThen(grant, route, text as string, format, encoding, finish)
    })
    return
  }
  let command: ReturnType<typeof commandFromPath>
  try {
    command = commandFromPath(route, NO_QUERY, undefined)
  } catch (error) {
    finish(error)
    return
  }
  service.answerCommandThen(grant, command, format, encoding, finish)
}

function write(
  response: ServerResponse,
  ...[status, contentType, body, syncToken, requestId, close]: Parameters<Respond>
): void {
  if (response.headersSent || response.destroyed) return // the client went away
  const head: Record<string, string | number> = {
    'content-type': contentType,
    'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
    'upstash-sync-token': syncToken,
    'x-request-id': requestId,
  }
  if (close) head.connection = 'close'
  response.writeHead(status, head)
  response.end(body)
}

/** One request header as a string (Node joins most repeated headers itself). */
function one(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name]
  return Array.isArray(value) ? value.join(', ') : value
}
