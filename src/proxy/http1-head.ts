/**
 * A strict reader of the HTTP/1.1 request heads the proxy's raw front answers itself (see
 * `http1-front.ts`). It accepts a deliberately small grammar and leaves everything else to
 * node:http (llhttp): `undefined` here never means "bad request", only "not mine". So a head it
 * takes must be one llhttp reads the same way; a test parses the same bytes both ways.
 *
 * Taken: `GET` or `POST`, `HTTP/1.1`, a target the caller takes, header names of token
 * characters directly followed by `:`, values of visible ASCII, tab, space or obs-text, exactly
 * one `Host`, a body framed by at most one plain `Content-Length`. Left to node:http: any other
 * method or version, `Transfer-Encoding`, `Expect`, `Upgrade`, a `Connection` other than
 * `keep-alive`/`close`, obs-fold, bare CR or LF, a repeated header the proxy reads, more than
 * `MAX_HEADER_LINES` lines.
 */

/** What a raw-front request carries, beyond its route. */
export interface RequestHead<Route> {
  method: 'GET' | 'POST'
  route: Route
  /** The request target as sent (`/`, `/GET/key`). */
  url: string
  /** Body bytes after the head (0 without `Content-Length`). */
  contentLength: number
  /** `Connection: close`: answer, then end the connection. */
  close: boolean
  authorization: string | undefined
  requestId: string | undefined
  responseFormat: string | undefined
  encoding: string | undefined
}

/** Heads longer than this (request line and headers) are left to node:http and its 16 KiB limit. */
export const MAX_HEAD_BYTES = 8192
/** Header lines past this go to node:http, which counts them against its own limit. */
const MAX_HEADER_LINES = 64

const REQUEST_LINE = /^(GET|POST) (\/[!-~]*) HTTP\/1\.1$/
// Name: RFC 9110 token characters, then the colon at once (llhttp refuses `Name :`). Value:
// HTAB, SP, VCHAR and obs-text; no CTL, so no bare CR or LF slips inside a line.
const HEADER_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[\t ]*([\t\x20-\x7e\x80-\xff]*?)[\t ]*$/
const CONTENT_LENGTH = /^\d{1,15}$/
/** The other headers the proxy reads, each at most once (a repeat goes to node:http), and where. */
const READ_ONCE = new Map<string, 'authorization' | 'requestId' | 'responseFormat' | 'encoding'>([
  ['authorization', 'authorization'],
  ['x-request-id', 'requestId'],
  ['upstash-response-format', 'responseFormat'],
  ['upstash-encoding', 'encoding'],
])

/**
 * Reads the head in `text` (latin1, without its closing blank line).
 * @param take the caller's route for a method and target, or undefined when it is not the caller's
 * @returns the head, or undefined to leave the request (and its connection) to node:http
 */
export function readRequestHead<Route>(
  text: string,
  take: (method: 'GET' | 'POST', url: string) => Route | undefined,
): RequestHead<Route> | undefined {
  const lines = text.split('\r\n')
  if (lines.length > MAX_HEADER_LINES + 1) return undefined
  const requestLine = REQUEST_LINE.exec(lines[0]!)
  if (!requestLine) return undefined
  const method = requestLine[1] as 'GET' | 'POST'
  const url = requestLine[2]!
  const route = take(method, url)
  if (route === undefined) return undefined
  const head: RequestHead<Route> = {
    method,
    route,
    url,
    contentLength: 0,
    close: false,
    authorization: undefined,
    requestId: undefined,
    responseFormat: undefined,
    encoding: undefined,
  }
  let hosts = 0
  let lengths = 0
  let connections = 0
  for (let i = 1; i < lines.length; i++) {
    const line = HEADER_LINE.exec(lines[i]!)
    if (!line) return undefined
    const value = line[2]!
    const name = line[1]!.toLowerCase()
    switch (name) {
      case 'host':
        hosts++
        break
      case 'content-length':
        if (++lengths > 1 || !CONTENT_LENGTH.test(value)) return undefined
        head.contentLength = Number(value)
        break
      case 'connection': {
        if (++connections > 1) return undefined
        const option = value.toLowerCase()
        if (option === 'close') head.close = true
        else if (option !== 'keep-alive') return undefined
        break
      }
      case 'transfer-encoding':
      case 'expect':
      case 'upgrade':
      case 'proxy-connection':
      case 'keep-alive':
        return undefined
      default: {
        const field = READ_ONCE.get(name)
        if (field === undefined) break
        if (head[field] !== undefined) return undefined
        head[field] = value
      }
    }
  }
  return hosts === 1 ? head : undefined
}
