/**
 * The proxy's hot routes on node:http directly: `POST /`, `POST /pipeline` and `POST /multi-exec`
 * (what `@upstash/redis` sends) are answered here, everything else goes to the Hono app.
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
import type { CommandService, EncodedAnswer } from './command-service.js'
import { readIncomingBodyThen } from './read-body.js'
import type { Grant } from './tokens.js'

/** The paths answered here; anything with a query string (`?_token=`) goes to Hono. */
const FAST_PATHS = new Set(['/', '/pipeline', '/multi-exec'])

/**
 * Wraps the Hono app's node:http listener: `POST /`, `/pipeline` and `/multi-exec` are answered
 * by `service` here, every other request by `fallback`.
 */
export function withCommandFastPath(service: CommandService, fallback: RequestListener): RequestListener {
  return (request, response) => {
    if (request.method !== 'POST' || !FAST_PATHS.has(request.url ?? '')) {
      fallback(request, response)
      return
    }
    answer(service, request, response, request.url as '/' | '/pipeline' | '/multi-exec')
  }
}

/**
 * One request, in callbacks rather than async functions: about 15 KB of garbage a single command
 * made, 4 KB of it were this path's promises and async frames (the reason is in `singleThen`).
 */
function answer(
  service: CommandService,
  request: IncomingMessage,
  response: ServerResponse,
  path: '/' | '/pipeline' | '/multi-exec',
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
      service.end('POST', path, status, started, requestId)
    }
  }
  let grant: Grant
  try {
    grant = service.authenticate(one(headers, 'authorization'), undefined)
  } catch (error) {
    finish(error)
    return
  }
  readIncomingBodyThen(request, service.limits.maxBodyBytes, (error, text) => {
    if (error !== undefined) finish(error)
    else
      service.answerBodyThen(
        grant,
        path,
        text as string,
        one(headers, 'upstash-response-format'),
        one(headers, 'upstash-encoding'),
        finish,
      )
  })
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
