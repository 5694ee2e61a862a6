/**
 * A strict reader of the HTTP/1.1 request heads the proxy's raw front answers itself (see
 * `http1-front.ts`). It accepts a deliberately small grammar and leaves everything else to
 * node:http (llhttp): `undefined` here never means "bad request", only "not mine". So a head it
 * takes must be one llhttp reads the same way; a test parses the same bytes both ways.
 *
 * Taken: `GET` or `POST`, `HTTP/1.1`, a target the caller takes, header names of token
 * characters directly followed by `:`, values of visible ASCII, tab, space or obs-text, exactly
 * one `Host`, a body framed by at most one plain `Content-Length` (digits; no tab after them).
 * Left to node:http: any other method or version, `Transfer-Encoding`, `Content-Encoding`
 * (refused there: `read-body.ts`), `Expect`, `Upgrade`, a
 * `Connection` other than `keep-alive`/`close`, obs-fold, bare CR or LF, a repeated header the
 * proxy reads, more than `MAX_HEADER_LINES` lines.
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
/** RFC 9110 token characters (header names), by char code. */
const TOKEN = new Uint8Array(128)
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
  TOKEN[c.charCodeAt(0)] = 1
const CONTENT_LENGTH = /^\d{1,15}$/
/** The other headers the proxy reads, each at most once (a repeat goes to node:http), and where. */
const READ_ONCE = new Map<string, 'authorization' | 'requestId' | 'responseFormat' | 'encoding'>([
  ['authorization', 'authorization'],
  ['x-request-id', 'requestId'],
  ['upstash-response-format', 'responseFormat'],
  ['upstash-encoding', 'encoding'],
])
/**
 * Lengths of the header names the reader acts on: a name of another length is only checked, not
 * copied or lower-cased (a request's other headers: user-agent, accept, content-type, ...).
 */
const NAMES_READ = new Set(
  [
    'host',
    'content-length',
    'connection',
    'transfer-encoding',
    'content-encoding',
    'expect',
    'upgrade',
    'proxy-connection',
    'keep-alive',
    ...READ_ONCE.keys(),
  ].map((name) => name.length),
)

/**
 * Reads the head in `text` (latin1, without its closing blank line).
 *
 * By index, a character at a time, rather than by splitting and matching each line: of the 11 KB
 * of garbage a request made on the raw front, the line array, the lines and a match array per line
 * were about 1.2 KB, and a regular expression per line cost more than the loop.
 * @param take the caller's route for a method and target, or undefined when it is not the caller's
 * @returns the head, or undefined to leave the request (and its connection) to node:http
 */
export function readRequestHead<Route>(
  text: string,
  take: (method: 'GET' | 'POST', url: string) => Route | undefined,
): RequestHead<Route> | undefined {
  let lineEnd = text.indexOf('\r\n')
  if (lineEnd === -1) lineEnd = text.length
  const requestLine = REQUEST_LINE.exec(lineEnd === text.length ? text : text.slice(0, lineEnd))
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
  let lines = 0
  for (let start = lineEnd + 2; start <= text.length; start = lineEnd + 2) {
    if (++lines > MAX_HEADER_LINES) return undefined
    // The name: token characters, then the colon at once (llhttp refuses `Name :`).
    let colon = start
    for (let c = text.charCodeAt(colon); c !== 58; c = text.charCodeAt(++colon)) {
      if (!(c < 128 && TOKEN[c] === 1)) return undefined // NaN past the end fails here too
    }
    if (colon === start) return undefined
    // The value: HTAB, SP, VCHAR and obs-text (0x80-0xFF), up to a CR that starts the line's
    // CRLF; any other control character (a bare CR or LF too) fails, and so would a code above
    // 0xFF, which latin1 text from bytes never has.
    lineEnd = colon + 1
    for (; lineEnd < text.length; lineEnd++) {
      const c = text.charCodeAt(lineEnd)
      if (c >= 32 ? c === 127 || c > 255 : c !== 9) {
        if (c === 13 && text.charCodeAt(lineEnd + 1) === 10) break
        return undefined
      }
    }
    if (!NAMES_READ.has(colon - start)) continue
    const name = text.slice(start, colon).toLowerCase()
    // The value without the optional whitespace around it (SP and HTAB only, as llhttp trims).
    let from = colon + 1
    let to = lineEnd
    while (from < to && isOptionalWhitespace(text.charCodeAt(from))) from++
    while (to > from && isOptionalWhitespace(text.charCodeAt(to - 1))) to--
    switch (name) {
      case 'host':
        hosts++
        break
      case 'content-length': {
        // llhttp (Node 20) allows spaces after the digits but refuses a tab there (400), though
        // it skips one before them: so only spaces come off the end here.
        let end = lineEnd
        while (end > from && text.charCodeAt(end - 1) === 32) end--
        const value = text.slice(from, end)
        if (++lengths > 1 || !CONTENT_LENGTH.test(value)) return undefined
        head.contentLength = Number(value)
        break
      }
      case 'connection': {
        if (++connections > 1) return undefined
        const option = text.slice(from, to).toLowerCase()
        if (option === 'close') head.close = true
        else if (option !== 'keep-alive') return undefined
        break
      }
      case 'transfer-encoding':
      case 'content-encoding':
      case 'expect':
      case 'upgrade':
      case 'proxy-connection':
      case 'keep-alive':
        return undefined
      default: {
        const field = READ_ONCE.get(name)
        if (field === undefined) break
        if (head[field] !== undefined) return undefined
        head[field] = text.slice(from, to)
      }
    }
  }
  return hosts === 1 ? head : undefined
}

function isOptionalWhitespace(code: number): boolean {
  return code === 32 || code === 9
}
