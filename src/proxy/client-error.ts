/**
 * The proxy's answers to requests that never reach its app: bytes node:http cannot take as a
 * request (a malformed head, one too large, one too slow to arrive), and requests
 * @hono/node-server cannot make a URL of (an asterisk-form target, a bad Host), or that have no
 * Host at all. Their own
 * answers are a bare status with no body; the proxy answers every error as JSON, these too.
 */
import { type RequestListener, STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import { RequestError } from '@hono/node-server'

/** What node:http hands a `clientError` listener: llhttp's code (`HPE_*`) and reason, or Node's. */
export interface ClientError extends Error {
  code?: string
  reason?: string
}

/**
 * A node:http server's `clientError` listener: answers as Node would (431 for a head too large,
 * 413 for chunk extensions too large, 408 for a request too slow, else 400) with a JSON
 * `{"error": ...}` body, then closes the
 * connection. Like Node, it writes nothing when the peer is gone or a response on that
 * connection has started (its bytes would corrupt that one), and it never echoes the request.
 * @example
 * server.on('clientError', answerClientError)
 */
export function answerClientError(error: ClientError, socket: Duplex): void {
  // A listener replaces Node's handling: this one must close the socket, whatever it writes.
  const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } | null })._httpMessage
  if (error.code !== 'ECONNRESET' && socket.writable && !inFlight?.headersSent) {
    const status = statusOf(error.code)
    const body = JSON.stringify({ error: messageOf(status, error) })
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    )
  }
  socket.destroy()
}

/** The status node:http's default listener sends for the same error. */
function statusOf(code: string | undefined): 400 | 408 | 413 | 431 {
  if (code === 'HPE_HEADER_OVERFLOW') return 431
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return 413
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408
  return 400
}

/** The client-facing text: what was wrong, in llhttp's words when it has them. */
function messageOf(status: 400 | 408 | 413 | 431, error: ClientError): string {
  if (status === 431) return 'the request head is too large'
  if (status === 413) return 'the chunk extensions are too large'
  if (status === 408) return 'the request took too long to arrive'
  // llhttp's reason is a fixed phrase of its own ("Invalid header value char"), never request bytes.
  const reason = error.code?.startsWith('HPE_') && error.reason ? `: ${error.reason}` : ''
  return `malformed HTTP request${reason}${error.code ? ` (${error.code})` : ''}`
}

/**
 * @hono/node-server's `errorHandler`: a request it could not build (`RequestError`: a target or
 * Host it cannot make a URL of) is a JSON 400; anything else thrown past the app is a JSON 500
 * (the app answers its own errors; this is the last resort).
 */
export function answerRequestError(error: unknown): Response {
  const bad = error instanceof RequestError
  return new Response(
    JSON.stringify({ error: bad ? `malformed request: ${error.message}` : 'internal error' }),
    {
      status: bad ? 400 : 500,
      headers: { 'content-type': 'application/json' },
    },
  )
}

/** The answer to an HTTP/1.1 request without a Host header. */
const NO_HOST = JSON.stringify({ error: 'malformed HTTP request: no Host header (HTTP/1.1 requires one)' })

/**
 * Wraps the server's request listener: an HTTP/1.1 request without a Host header is answered
 * 400, as RFC 9112 §3.2 asks and node:http does, but in JSON. node:http's own check (its
 * `requireHostHeader`, which the server turns off for this) writes a bare 400 with no body.
 * @example
 * createServer({ requireHostHeader: false }, requireHost(listener))
 */
export function requireHost(listener: RequestListener): RequestListener {
  return (request, response) => {
    if (
      request.headers.host === undefined &&
      request.httpVersionMajor === 1 &&
      request.httpVersionMinor === 1
    ) {
      response.writeHead(400, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(NO_HOST),
        connection: 'close',
      })
      response.end(NO_HOST)
      return
    }
    listener(request, response)
  }
}
