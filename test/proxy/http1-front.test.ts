/**
 * The raw HTTP/1.1 front on a plain node:http server, with small routes of its own: order of
 * answers, hand-over to node:http (mid-connection too), framing it leaves alone, slow clients,
 * keep-alive, half-closed clients, graceful closing, clients that do not read. Raw sockets send
 * the exact bytes; answers say who wrote them (`x-by: raw` or `node`).
 */
import { createServer, type Server } from 'node:http'
import { connect, type Socket } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { RawHttp1Front, type RawRoutes } from '../../src/proxy/http1-front.js'

type Route = 'echo' | 'close' | 'bytes' | 'throw' | number

const routes: RawRoutes<Route> = {
  take(method, url) {
    if (method === 'POST' && url === '/echo') return 'echo'
    if (method === 'POST' && url === '/close') return 'close'
    if (method === 'POST' && url === '/bytes') return 'bytes'
    if (method === 'POST' && url === '/throw') return 'throw'
    const wait = /^\/wait\/(\d+)$/.exec(url)
    return method === 'GET' && wait ? Number(wait[1]) : undefined
  },
  answer(head, body, reply) {
    const text = body.toString('utf8')
    const answer = { status: 200, contentType: 'text/plain', headers: 'x-by: raw\r\n', close: false }
    if (head.route === 'throw') throw new Error('a route that breaks its contract')
    if (typeof head.route === 'number')
      setTimeout(() => reply({ ...answer, body: `waited ${head.route}` }), head.route)
    else if (head.route === 'bytes') reply({ ...answer, body: new Uint8Array(Buffer.from(`bytes:${text}`)) })
    else reply({ ...answer, body: text, close: head.route === 'close' })
  },
}

let server: Server
let front: RawHttp1Front<Route>
let port: number

async function listen(keepAliveTimeout = 5000): Promise<void> {
  server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (c: Buffer) => chunks.push(c))
    request.on('end', () => {
      const text = `${request.method} ${request.url} ${Buffer.concat(chunks).toString()}`
      response.setHeader('x-by', 'node')
      response.setHeader('content-length', Buffer.byteLength(text))
      response.end(text)
    })
  })
  server.keepAliveTimeout = keepAliveTimeout
  front = new RawHttp1Front(routes, {
    maxBodyBytes: 1000,
    headersTimeoutMs: 300,
    requestTimeoutMs: 600,
    checkIntervalMs: 50,
  })
  front.attach(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as { port: number }).port
}

beforeEach(() => listen())
afterEach(async () => {
  front.closeAll()
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

interface Answer {
  status: number
  headers: Record<string, string>
  body: string
}

/** A raw client: sends bytes, reads whole answers (Content-Length framed), sees the close. */
class Client {
  readonly socket: Socket
  #bytes = Buffer.alloc(0)
  readonly answers: Answer[] = []
  closed = false
  #waiters: (() => void)[] = []

  constructor(read = true) {
    this.socket = connect(port, '127.0.0.1')
    this.socket.on('error', () => {})
    this.socket.on('data', (chunk: Buffer) => {
      this.#bytes = Buffer.concat([this.#bytes, chunk])
      this.#parse()
    })
    this.socket.on('close', () => {
      this.closed = true
      this.#wake()
    })
    if (!read) this.socket.pause()
  }

  send(text: string): this {
    this.socket.write(text)
    return this
  }

  async next(count: number, timeoutMs = 3000): Promise<Answer[]> {
    const end = Date.now() + timeoutMs
    while (this.answers.length < count) {
      if (Date.now() > end) throw new Error(`only ${this.answers.length} of ${count} answers`)
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve)
        setTimeout(resolve, 20)
      })
    }
    return this.answers.splice(0, count)
  }

  async whenClosed(timeoutMs = 3000): Promise<void> {
    const end = Date.now() + timeoutMs
    while (!this.closed) {
      if (Date.now() > end) throw new Error('the server did not close the connection')
      await new Promise((r) => setTimeout(r, 10))
    }
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w()
  }

  #parse(): void {
    for (;;) {
      const end = this.#bytes.indexOf('\r\n\r\n')
      if (end === -1) return
      const lines = this.#bytes.subarray(0, end).toString('latin1').split('\r\n')
      const headers: Record<string, string> = {}
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':')
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
      }
      const length = Number(headers['content-length'] ?? 0)
      if (this.#bytes.length < end + 4 + length) return
      this.answers.push({
        status: Number(lines[0]!.split(' ')[1]),
        headers,
        body: this.#bytes.subarray(end + 4, end + 4 + length).toString('utf8'),
      })
      this.#bytes = this.#bytes.subarray(end + 4 + length)
      this.#wake()
    }
  }
}

const post = (path: string, body: string, extra = '') =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`
const by = (answers: Answer[]) => answers.map((a) => `${a.headers['x-by']}: ${a.body}`)

describe('the raw HTTP/1.1 front', () => {
  it('answers as node:http frames an answer: status line, Date, keep-alive, the route’s headers', async () => {
    const client = new Client().send(post('/echo', 'héllo'))
    const [answer] = await client.next(1)
    expect(answer).toMatchObject({
      status: 200,
      body: 'héllo',
      headers: {
        'content-type': 'text/plain',
        'content-length': String(Buffer.byteLength('héllo')),
        'x-by': 'raw',
        connection: 'keep-alive',
        'keep-alive': 'timeout=5',
      },
    })
    expect(Date.parse(answer!.headers.date!)).toBeGreaterThan(Date.now() - 5000)
    client.send(post('/bytes', 'b'))
    expect(by(await client.next(1))).toEqual(['raw: bytes:b'])
    expect(front.answered).toBe(2)
    client.socket.destroy()
  })

  it('answers pipelined requests in request order, a slow one first', async () => {
    const client = new Client().send(get('/wait/80') + get('/wait/1') + post('/echo', 'third'))
    expect(by(await client.next(3))).toEqual(['raw: waited 80', 'raw: waited 1', 'raw: third'])
    client.socket.destroy()
  })

  it('takes a request dribbled out a byte at a time, head and body', async () => {
    const client = new Client()
    for (const byte of post('/echo', 'slowly')) {
      client.send(byte)
      await new Promise((r) => setImmediate(r))
    }
    expect(by(await client.next(1))).toEqual(['raw: slowly'])
    expect(front.handedOver).toBe(0)
    client.socket.destroy()
  })

  it('hands the connection to node:http at the first request it does not take, after the answers before it', async () => {
    const client = new Client().send(get('/wait/50') + get('/other') + post('/echo', 'after'))
    expect(by(await client.next(3))).toEqual([
      'raw: waited 50',
      'node: GET /other ',
      'node: POST /echo after',
    ])
    expect(front.handedOver).toBe(1)
    expect(front.connections).toBe(0)
    // node:http keeps the connection: the next request is answered on it.
    client.send(post('/echo', 'later'))
    expect(by(await client.next(1))).toEqual(['node: POST /echo later'])
    client.socket.destroy()
  })

  it.each([
    [
      'a chunked body',
      'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
      'node: POST /echo hello',
    ],
    ['a body over the limit', post('/echo', 'x'.repeat(1001)), `node: POST /echo ${'x'.repeat(1001)}`],
    [
      'HTTP/1.0 with keep-alive',
      'POST /echo HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi',
      'node: POST /echo hi',
    ],
    [
      'a request without Host',
      'POST /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi',
      'undefined: {"error":"x"}',
    ],
  ])('leaves %s to node:http', async (_name, request, expected) => {
    const client = new Client().send(request)
    const answers = await client.next(1)
    if (expected.startsWith('undefined'))
      expect(answers[0]!.status).toBe(400) // node:http's own
    else expect(by(answers)).toEqual([expected])
    expect(front.handedOver).toBe(1)
    client.socket.destroy()
  })

  it('leaves Expect: 100-continue to node:http, which sends the 100', async () => {
    const client = new Client().send(post('/echo', 'hi', 'Expect: 100-continue\r\n'))
    const [interim, final] = await client.next(2)
    expect(interim!.status).toBe(100)
    expect(by([final!])).toEqual(['node: POST /echo hi'])
    client.socket.destroy()
  })

  it('a malformed request gets node:http’s 400, after the answers before it', async () => {
    const client = new Client().send(
      post('/echo', 'first') +
        'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nBad Header: 1\r\n\r\nx',
    )
    const answers = await client.next(2)
    expect(by(answers.slice(0, 1))).toEqual(['raw: first'])
    expect(answers[1]!.status).toBe(400)
    await client.whenClosed()
  })

  it('Connection: close: answers, says so, and closes', async () => {
    const client = new Client().send(post('/echo', 'bye', 'Connection: close\r\n') + post('/echo', 'never'))
    const [answer] = await client.next(1)
    expect(answer!.headers.connection).toBe('close')
    expect(answer!.body).toBe('bye')
    await client.whenClosed()
    expect(client.answers).toEqual([])
  })

  it('a route’s close ends the connection after its answer', async () => {
    const client = new Client().send(post('/close', 'x'))
    expect((await client.next(1))[0]!.headers.connection).toBe('close')
    await client.whenClosed()
  })

  it('a route that throws: that request gets a 500 and its connection closes; the server carries on', async () => {
    const client = new Client().send(post('/echo', 'before') + post('/throw', 'x'))
    const [before, broken] = await client.next(2)
    expect(before!.body).toBe('before')
    expect(broken).toMatchObject({
      status: 500,
      body: '{"error":"internal error"}',
      headers: { connection: 'close' },
    })
    await client.whenClosed()
    const next = new Client().send(post('/echo', 'still here'))
    expect(by(await next.next(1))).toEqual(['raw: still here'])
    next.socket.destroy()
  })

  it('a client that ends its side after sending gets every answer, then the close', async () => {
    const client = new Client()
    client.socket.end(Buffer.from(get('/wait/50') + post('/echo', 'last'), 'latin1'))
    expect(by(await client.next(2))).toEqual(['raw: waited 50', 'raw: last'])
    await client.whenClosed()
  })

  it('a client that ends its side after a request the front does not take: node:http answers it', async () => {
    const client = new Client()
    client.socket.end(Buffer.from(post('/echo', 'one') + get('/other'), 'latin1'))
    expect(by(await client.next(2))).toEqual(['raw: one', 'node: GET /other '])
    await client.whenClosed()
  })

  it('a head not complete in time: 408 and closed; a body likewise', async () => {
    const head = new Client().send('POST /echo HTTP/1.1\r\nHost: x\r\n')
    const body = new Client().send('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc')
    const started = Date.now()
    const [late] = await head.next(1)
    expect(late!.status).toBe(408)
    expect(JSON.parse(late!.body)).toEqual({ error: 'the request took too long to arrive' })
    await head.whenClosed()
    expect(Date.now() - started).toBeLessThan(1000) // headersTimeout 300 ms, checked every 50 ms
    expect((await body.next(1))[0]!.status).toBe(408)
    await body.whenClosed()
    expect(Date.now() - started).toBeGreaterThanOrEqual(550) // requestTimeout 600 ms
  })

  it('an idle keep-alive connection is closed after the keep-alive timeout, a busy one is not', async () => {
    front.closeAll()
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await listen(200)
    const idle = new Client().send(post('/echo', 'x'))
    expect((await idle.next(1))[0]!.headers['keep-alive']).toBe('timeout=0')
    const busy = new Client().send(get('/wait/400'))
    await idle.whenClosed(1000)
    // Quiet for 400 ms, twice the timeout, yet not cut: its answer arrives.
    expect(by(await busy.next(1))).toEqual(['raw: waited 400'])
    busy.socket.destroy()
  })

  it('closeIdle: idle connections close now, a busy one after its answer, which says close', async () => {
    const idle = new Client().send(post('/echo', 'x'))
    await idle.next(1)
    const busy = new Client().send(get('/wait/300'))
    await new Promise((r) => setTimeout(r, 20))
    front.closeIdle()
    await idle.whenClosed(500)
    // Busy when closeIdle came: answered first (had it been cut, no answer would arrive).
    const [answer] = await busy.next(1)
    expect(answer!.headers.connection).toBe('close')
    await busy.whenClosed()
  })

  it('a client that does not read its answers: reading pauses, and every answer arrives in order once it reads', async () => {
    const client = new Client(false)
    const count = 400
    const big = 'y'.repeat(900)
    let requests = ''
    for (let i = 0; i < count; i++) requests += post('/echo', `${i}:${big}`)
    client.send(requests)
    await new Promise((r) => setTimeout(r, 200))
    client.socket.resume()
    const answers = await client.next(count, 10_000)
    expect(answers.map((a) => a.body.split(':')[0])).toEqual(
      Array.from({ length: count }, (_, i) => String(i)),
    )
    client.socket.destroy()
  })
})
