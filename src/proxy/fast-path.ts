/**
 * The proxy's hot routes on node:http directly: `POST /`, `POST /pipeline` and `POST /multi-exec`
 * (what `@upstash/redis` sends) and plain path-style `GET /<cmd>/<arg>...` requests are answered
 * here, everything else goes to the Hono app.
 *
 * Why: through Hono on @hono/node-server a single command cost about twice what the same work
 * costs on a bare node:http handler (a Fetch Request and Response per request, a middleware
 * chain of promises, header objects copied twice). Measured on this machine (bench/proxy, one
 * process, 50 connections): 0.53× webdis through Hono; a bare node:http + ioredis handler with no
 * checks at all reached 0.85–0.99× webdis. The work itself — tokens, authorization, deadline,
 * encoding, metrics, logs — is `CommandService`'s, shared with the Hono routes, so both answer
 * the same bytes (a test sends the same requests both ways and compares).
 */
import type { IncomingHttpHeaders, IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import type { CommandService, Done, EncodedAnswer } from './command-service.js'
import { isKnownCommand } from './command-table.js'
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

/**
 * Wraps the Hono app's node:http listener: `POST /`, `/pipeline`, `/multi-exec` and plain
 * path-style GETs are answered by `service` here, every other request by `fallback`.
 */
export function withCommandFastPath(service: CommandService, fallback: RequestListener): RequestListener {
  return (request, response) => {
    const url = request.url ?? ''
    if (request.method === 'POST' && FAST_PATHS.has(url)) {
      const path = url as '/' | '/pipeline' | '/multi-exec'
      answer(service, request, response, 'POST', path, (grant, headers, done) =>
        readIncomingBodyThen(request, service.limits.maxBodyBytes, (error, text) => {
          if (error !== undefined) done(error)
          else
            service.answerBodyThen(
              grant,
              path,
              text as string,
              one(headers, 'upstash-response-format'),
              one(headers, 'upstash-encoding'),
              done,
            )
        }),
      )
      return
    }
    const segments = request.method === 'GET' ? pathStyleSegments(url) : undefined
    if (segments) {
      // A GET's body, if any, is not an argument (as on the Hono route). Node discards a body
      // nobody read once the response is done; resuming it here cost 1.2 KB of stream garbage.
      answer(service, request, response, 'GET', '/<command>', (grant, headers, done) => {
        let command: ReturnType<typeof commandFromPath>
        try {
          command = commandFromPath(segments, NO_QUERY, undefined)
        } catch (error) {
          done(error)
          return
        }
        service.answerCommandThen(
          grant,
          command,
          one(headers, 'upstash-response-format'),
          one(headers, 'upstash-encoding'),
          done,
        )
      })
      return
    }
    fallback(request, response)
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

/**
 * One request, in callbacks rather than async functions: of about 15 KB of garbage a single
 * command made, 2 KB were this path's promises and async frames (the reason is in `singleThen`).
 * `run` does the route's own work once the token is known.
 */
function answer(
  service: CommandService,
  request: IncomingMessage,
  response: ServerResponse,
  method: 'POST' | 'GET',
  route: string,
  run: (grant: Grant, headers: IncomingHttpHeaders, done: Done<EncodedAnswer>) => void,
): void {
  const started = performance.now()
  const headers = request.headers
  const requestId = service.requestId(one(headers, 'x-request-id'))
  const syncToken = service.begin()
  const refuse = (error: unknown): number => {
    const failure = service.errorAnswer(error, requestId)
    // Refused before its body was read (401, 403 ...): read and drop it so the connection can
    // carry the next request. A 413 closes the connection instead.
    if (!request.readableEnded && !failure.closeConnection) request.resume()
    write(
      response,
      failure.status,
      'application/json',
      failure.body,
      syncToken,
      requestId,
      failure.closeConnection,
    )
    return failure.status
  }
  const finish = (error: unknown, encoded?: EncodedAnswer): void => {
    let status = 200
    try {
      if (error === undefined) {
        const { contentType, body } = encoded as EncodedAnswer
        write(response, 200, contentType, body, syncToken, requestId, false)
      } else {
        status = refuse(error)
      }
    } catch (writeError) {
      status = refuse(writeError)
    } finally {
      service.end(method, route, status, started, requestId)
    }
  }
  let grant: Grant
  try {
    grant = service.authenticate(one(headers, 'authorization'), undefined)
  } catch (error) {
    finish(error)
    return
  }
  run(grant, headers, finish)
}

function write(
  response: ServerResponse,
  status: number,
  contentType: string,
  body: string | Uint8Array,
  syncToken: string,
  requestId: string,
  close: boolean,
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
