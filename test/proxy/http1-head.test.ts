/**
 * The raw front's head reader: what it takes, what it leaves to node:http, and (property-based)
 * that every head it takes is one node:http's own parser (llhttp) reads the same way: the same
 * method, target, framing and the headers the proxy uses.
 */
import { createServer, type Server } from 'node:http'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readRequestHead } from '../../src/proxy/http1-head.js'
import { exchangeRaw } from '../helpers/raw-http.js'

const anyTarget = (_method: 'GET' | 'POST', url: string) => url

describe('readRequestHead', () => {
  it('reads a plain POST as @upstash/redis sends it', () => {
    const head = readRequestHead(
      [
        'POST /pipeline HTTP/1.1',
        'host: 127.0.0.1:8079',
        'connection: keep-alive',
        'authorization: Bearer  secret ',
        'content-type: application/json',
        'upstash-encoding: base64',
        'content-length: 23',
        'X-Request-Id: abc',
      ].join('\r\n'),
      anyTarget,
    )
    expect(head).toEqual({
      method: 'POST',
      route: '/pipeline',
      url: '/pipeline',
      contentLength: 23,
      close: false,
      authorization: 'Bearer  secret',
      requestId: 'abc',
      responseFormat: undefined,
      encoding: 'base64',
    })
  })

  it('gives the route its caller chose, and leaves targets the caller does not take', () => {
    const take = (method: 'GET' | 'POST', url: string) => (url === '/' ? `${method} root` : undefined)
    expect(readRequestHead('GET / HTTP/1.1\r\nHost: x', take)?.route).toBe('GET root')
    expect(readRequestHead('GET /healthz HTTP/1.1\r\nHost: x', take)).toBeUndefined()
  })

  it('reads Connection: close, and no Content-Length as no body', () => {
    const head = readRequestHead('GET /x HTTP/1.1\r\nHost: x\r\nConnection: Close', anyTarget)
    expect(head?.close).toBe(true)
    expect(head?.contentLength).toBe(0)
  })

  it.each([
    ['another method', 'PUT / HTTP/1.1\r\nHost: x'],
    ['a lower-case method', 'post / HTTP/1.1\r\nHost: x'],
    ['HTTP/1.0', 'POST / HTTP/1.0\r\nHost: x'],
    ['an absolute target', 'POST http://x/ HTTP/1.1\r\nHost: x'],
    ['two spaces', 'POST  / HTTP/1.1\r\nHost: x'],
    ['no Host', 'POST / HTTP/1.1\r\nContent-Length: 2'],
    ['two Hosts', 'POST / HTTP/1.1\r\nHost: x\r\nHost: y'],
    ['chunked', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked'],
    ['a content coding', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Encoding: gzip'],
    ['two lengths', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2'],
    ['a signed length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +2'],
    ['a list of lengths', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 2'],
    ['Expect', 'POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue'],
    ['Upgrade', 'GET /x HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade'],
    ['a space before the colon', 'POST / HTTP/1.1\r\nHost : x'],
    ['obs-fold', 'POST / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2'],
    ['a bare LF in a value', 'POST / HTTP/1.1\r\nHost: x\r\nX-A: 1\n2'],
    ['a bare CR in a value', 'POST / HTTP/1.1\r\nHost: x\r\nX-A: 1\r2'],
    ['a NUL in a value', 'POST / HTTP/1.1\r\nHost: x\r\nX-A: 1\u00002'],
    ['a DEL in a value', 'POST / HTTP/1.1\r\nHost: x\r\nX-A: 1\u007f2'],
    [
      'a code above 0xFF in a value (never in latin1 text from bytes)',
      'POST / HTTP/1.1\r\nHost: x\r\nX-A: €',
    ],
    ['a name with obs-text', 'POST / HTTP/1.1\r\nHost: x\r\nX-Ü: 1'],
    ['a line with no colon', 'POST / HTTP/1.1\r\nHost: x\r\nX-A'],
    ['two authorizations', 'POST / HTTP/1.1\r\nHost: x\r\nAuthorization: a\r\nAuthorization: b'],
    ['an empty line', 'POST / HTTP/1.1\r\n\r\nHost: x'],
    ['too many lines', `POST / HTTP/1.1\r\nHost: x${'\r\nX-A: 1'.repeat(64)}`],
  ])('leaves to node:http: %s', (_name, text) => {
    expect(readRequestHead(text, anyTarget)).toBeUndefined()
  })
})

describe('what it takes, node:http reads the same way', () => {
  let server: Server
  let port: number

  beforeAll(async () => {
    // node:http as the reference: it answers what it parsed, and closes.
    server = createServer((request, response) => {
      const chunks: Buffer[] = []
      request.on('data', (chunk: Buffer) => chunks.push(chunk))
      request.on('end', () => {
        const h = request.headers
        response.setHeader('connection', 'close')
        response.end(
          JSON.stringify({
            method: request.method,
            url: request.url,
            contentLength: Buffer.concat(chunks).length,
            close: request.headers.connection?.toLowerCase() === 'close',
            authorization: h.authorization,
            requestId: h['x-request-id'],
            responseFormat: h['upstash-response-format'],
            encoding: h['upstash-encoding'],
          }),
        )
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as { port: number }).port
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  /** node:http's answer to these bytes: its status line and body. */
  async function askNode(bytes: Buffer): Promise<{ status: string; body: string }> {
    const answer = await exchangeRaw(port, bytes)
    const text = answer.toString('latin1')
    // The status line as sent; the body is the reference server's JSON, in UTF-8.
    const body = answer.subarray(answer.indexOf('\r\n\r\n') + 4).toString('utf8')
    return { status: text.slice(0, text.indexOf('\r\n')), body }
  }

  // Pieces near the edges of the grammar: most heads come out valid, many do not.
  const token = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.constantFrom(
        'X-Other',
        'accept',
        'Authorization',
        'x-request-id',
        'Upstash-Encoding',
        'upstash-response-format',
        'Content-Type',
      ),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        'Host',
        'content-length',
        'Connection',
        'Transfer-Encoding',
        'Expect',
        'X Bad',
        'X@Bad',
        'X-Ü',
        '',
      ),
    },
  )
  const safe = fc.string({
    unit: fc.constantFrom(
      'a',
      'Z',
      '0',
      '9',
      ' ',
      '\t',
      ',',
      ':',
      ';',
      '=',
      '-',
      '+',
      '%',
      '/',
      'é',
      '\u00ff',
      'close',
      'keep-alive',
      'Bearer x',
    ),
    maxLength: 8,
  })
  const nasty = fc.string({
    unit: fc.constantFrom(
      'a',
      ' ',
      '"',
      '\\',
      '?',
      '#',
      '\u0000',
      '\u007f',
      '\r',
      '\n',
      '\u0001',
      '\r\n',
      ' \r\n',
      'chunked',
      '€',
    ),
    maxLength: 8,
  })
  const text = fc.oneof({ weight: 5, arbitrary: safe }, { weight: 1, arbitrary: nasty })
  const header = fc.oneof(
    { weight: 8, arbitrary: fc.tuple(token, fc.constantFrom(': ', ':', ':\t', ': \t'), text) },
    { weight: 1, arbitrary: fc.tuple(token, fc.constantFrom(' : ', ' ', '::', ''), text) },
  )
  const head = fc.record({
    method: fc.constantFrom('GET', 'GET', 'GET', 'POST', 'POST', 'POST', 'PUT', 'get'),
    target: fc.oneof(
      fc.constantFrom('/', '/pipeline', '/GET/a', '/a%20b', '/a?b', '*'),
      text.map((t) => `/${t}`),
    ),
    version: fc.constantFrom(...Array<string>(8).fill('HTTP/1.1'), 'HTTP/1.0', 'HTTP/2.0', 'http/1.1'),
    headers: fc.array(header, { maxLength: 5 }),
    host: fc.constantFrom(true, true, true, false),
    length: fc.oneof(
      fc.constant(undefined),
      fc.nat(12).map(String),
      fc.constantFrom('1 ', '01', '-1', '1,1', '', '1\t', '\t1', '1 \t'),
    ),
  })

  // Found by the property below (seed 1364002281): llhttp refuses a tab after the digits.
  it.each([
    ['a space after', '9 '],
    ['spaces around', '  9  '],
    ['a tab before', '\t9'],
    ['a tab after', '9\t'],
    ['a space, then a tab after', '9 \t'],
    ['a tab, then a space after', '9\t '],
  ])('Content-Length with %s: taken only when node:http reads it as 9', async (_name, value) => {
    const headText = `POST / HTTP/1.1\r\nHost: x\r\ncontent-length:${value}`
    const node = await askNode(Buffer.from(`${headText}\r\n\r\n123456789`, 'latin1'))
    const read = readRequestHead(headText, anyTarget)
    if (node.status === 'HTTP/1.1 200 OK') {
      expect(JSON.parse(node.body).contentLength).toBe(9)
      expect(read?.contentLength).toBe(9)
    } else {
      expect(read).toBeUndefined()
    }
  })

  it('every head taken is read by llhttp with the same method, target, body length and headers', {
    timeout: 120_000,
  }, async () => {
    let taken = 0
    await fc.assert(
      fc.asyncProperty(head, async (h) => {
        const lines = [`${h.method} ${h.target} ${h.version}`]
        if (h.host) lines.push('Host: x')
        for (const [name, separator, value] of h.headers) lines.push(`${name}${separator}${value}`)
        if (h.length !== undefined) lines.push(`Content-Length: ${h.length}`)
        const headText = lines.join('\r\n')
        const read = readRequestHead(headText, anyTarget)
        if (read === undefined) return
        taken++
        const bytes = Buffer.concat([
          Buffer.from(`${headText}\r\n\r\n`, 'latin1'),
          Buffer.alloc(read.contentLength, 'b'),
        ])
        const node = await askNode(bytes)
        expect(node.status, headText).toBe('HTTP/1.1 200 OK')
        const { route: _route, ...ours } = read
        expect(JSON.parse(node.body), headText).toEqual(JSON.parse(JSON.stringify(ours)))
      }),
      { numRuns: 5000 },
    )
    // The generator must reach the interesting side: hundreds of heads taken (about 1 in 13), not a handful.
    expect(taken).toBeGreaterThan(250)
  })
})
