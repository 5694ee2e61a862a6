/**
 * The proxy's raw HTTP/1.1 front: it takes over the node:http server's connections, answers the
 * hot requests (what `@upstash/redis` sends) straight from the socket's bytes, and hands a
 * connection to node:http, with the bytes it has not answered, at the first request it does not
 * take: another route, anything its strict head reader leaves alone (`http1-head.ts`), a body
 * over the limit. From then on that connection is node:http's, with all its checks.
 *
 * Why by hand: node:http builds an IncomingMessage and a ServerResponse (two streams, header
 * objects, events) per request. On this machine a bare node:http + ioredis server used 26 µs of
 * CPU a request and the same on raw sockets 21 µs; the proxy went from 35 µs a request on
 * node:http to 25 µs on this front (bench/proxy, the same run). One process is bound by its core,
 * so that is its throughput. No package on the npm registry fits: uWebSockets.js is not published there,
 * and the pure-JS parsers (http-parser-js) rebuild node:http's objects around a slower parser.
 * What the front reads is small on purpose; framing it does not know, it does not guess at.
 *
 * Kept as node:http keeps them: answers in request order (pipelining), `Date`, `Connection`
 * and `Keep-Alive` headers, the keep-alive timeout, half-closed clients answered before the
 * end, a request that arrives too slowly cut with 408 after the head or request timeout, reading
 * paused while the client does not read its answers.
 */
import type { Server } from 'node:http'
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import { MAX_HEAD_BYTES, type RequestHead, readRequestHead } from './http1-head.js'

/** One answer, as the route gives it to the front. */
export interface RawAnswer {
  status: number
  contentType: string
  body: string | Uint8Array
  /** More header lines, each `name: value\r\n`; plain ASCII the route has checked. */
  headers: string
  /** End the connection after this answer. */
  close: boolean
}

/** What the front answers: the routes it takes and how it answers them. */
export interface RawRoutes<Route> {
  /** The route of a method and target, or undefined to leave the request to node:http. */
  take(method: 'GET' | 'POST', url: string): Route | undefined
  /**
   * Answers one request; must call `reply` exactly once, and never throw. `body` is only valid
   * until this returns: copy what outlives it.
   */
  answer(head: RequestHead<Route>, body: Buffer, reply: (answer: RawAnswer) => void): void
}

/** Limits of the front; the node:http server's own are used after a hand-over. */
export interface RawFrontOptions {
  /** A body declared larger than this goes to node:http (which answers 413). */
  maxBodyBytes: number
  /** A request head not complete by then is answered 408 and its connection closed. */
  headersTimeoutMs: number
  /** A whole request (head and body) not complete by then: 408, closed. */
  requestTimeoutMs: number
  /** How often slow requests are looked for. */
  checkIntervalMs: number
}

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1')
/** Requests a connection may have in progress before the front stops reading from it. */
const MAX_PIPELINED = 32
const INTERNAL_ERROR = '{"error":"internal error"}'
const TIMED_OUT_BODY = '{"error":"the request took too long to arrive"}'
const TIMED_OUT =
  'HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n' +
  `content-length: ${TIMED_OUT_BODY.length}\r\nConnection: close\r\n\r\n${TIMED_OUT_BODY}`

/**
 * Answers the hot routes of a node:http server on its raw connections (see the file's comment).
 * @example
 * const front = new RawHttp1Front(routes, { maxBodyBytes: 1 << 20, headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, checkIntervalMs: 1000 })
 * front.attach(server)
 */
export class RawHttp1Front<Route> {
  readonly #routes: RawRoutes<Route>
  readonly #options: RawFrontOptions
  readonly #connections = new Set<RawConnection<Route>>()
  /** Connections with a request begun and not complete, and when it must be. */
  readonly #slow = new Map<RawConnection<Route>, number>()
  #sweep: NodeJS.Timeout | undefined
  #closing = false
  #keepAlive = 'Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n'
  #date = ''
  #dateSecond = -1

  constructor(routes: RawRoutes<Route>, options: RawFrontOptions) {
    this.#routes = routes
    this.#options = options
    this.take = routes.take.bind(routes)
  }

  /** @internal `routes.take`, bound. */
  readonly take: RawRoutes<Route>['take']

  /** Takes over `server`'s new connections; node:http gets those the front hands over. */
  attach(server: Server): void {
    const handOver = server.listeners('connection') as ((socket: Socket) => void)[]
    // As node:http words it (whole seconds); the idle timeout itself is the socket's.
    this.#keepAlive = `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(server.keepAliveTimeout / 1000)}\r\n\r\n`
    server.removeAllListeners('connection')
    server.on('connection', (socket: Socket) => {
      if (this.#closing) {
        socket.destroy()
        return
      }
      const connection = new RawConnection(this, socket, (s) => {
        for (const listener of handOver) listener.call(server, s)
      })
      this.#connections.add(connection)
      socket.setTimeout(server.keepAliveTimeout)
    })
  }

  /** Connections the front is answering (not those handed to node:http). */
  get connections(): number {
    return this.#connections.size
  }

  /** Requests the front has answered itself. */
  answered = 0
  /** Connections it has handed to node:http. */
  handedOver = 0

  /**
   * For a graceful shutdown: closes idle connections now, and each busy one once its answers
   * are written (they carry `Connection: close`).
   */
  closeIdle(): void {
    this.#closing = true
    for (const connection of this.#connections) connection.closeIfIdle()
  }

  /** Destroys every connection the front still has. */
  closeAll(): void {
    this.#closing = true
    for (const connection of this.#connections) connection.socket.destroy()
  }

  /** @internal */
  get closing(): boolean {
    return this.#closing
  }

  /** @internal */
  get routes(): RawRoutes<Route> {
    return this.#routes
  }

  /** @internal */
  get options(): RawFrontOptions {
    return this.#options
  }

  /** @internal The closing lines of a keep-alive answer's head. */
  get keepAlive(): string {
    return this.#keepAlive
  }

  /** @internal The `Date` header value, as node:http writes it: computed once a second. */
  date(): string {
    const now = Date.now()
    const second = Math.floor(now / 1000)
    if (second !== this.#dateSecond) {
      this.#dateSecond = second
      this.#date = new Date(now).toUTCString()
    }
    return this.#date
  }

  /** @internal A request began on `connection` and is not complete: it has until `deadline`. */
  slow(connection: RawConnection<Route>, deadline: number): void {
    if (!this.#slow.has(connection)) this.#slow.set(connection, deadline)
    this.#sweep ??= setInterval(() => this.#cutSlow(), this.#options.checkIntervalMs).unref()
  }

  /** @internal The connection's request is complete (or the connection gone). */
  notSlow(connection: RawConnection<Route>): void {
    if (this.#slow.delete(connection) && this.#slow.size === 0 && this.#sweep) {
      clearInterval(this.#sweep)
      this.#sweep = undefined
    }
  }

  /** @internal */
  forget(connection: RawConnection<Route>): void {
    this.#connections.delete(connection)
    this.notSlow(connection)
  }

  #cutSlow(): void {
    const now = Date.now()
    for (const [connection, deadline] of this.#slow) if (now >= deadline) connection.timedOut()
  }
}

/** Whether `buffer` has, from `offset`, an LF not preceded by a CR (a framing the front leaves to node:http). */
function hasBareLineFeed(buffer: Buffer, offset: number): boolean {
  for (let at = buffer.indexOf(10, offset); at !== -1; at = buffer.indexOf(10, at + 1)) {
    if (at === offset || buffer[at - 1] !== 13) return true
  }
  return false
}

/** One answer slot, in request order. */
interface Pending {
  bytes: string | [string, Uint8Array] | undefined
  close: boolean
}

/** One client connection while the front answers it. */
class RawConnection<Route> {
  readonly socket: Socket
  readonly #front: RawHttp1Front<Route>
  readonly #handOver: (socket: Socket) => void
  /** Bytes read and not yet answered (a partial request, or what waits for a hand-over). */
  #buffer: Buffer | undefined
  readonly #pending: Pending[] = []
  #parsing = false
  /** Set when node:http is to take the connection once the answers before are written. */
  #handingOver = false
  /** No more requests are read: `Connection: close`, or the client ended its side. */
  #noMore = false
  #ended = false
  #gone = false
  #pausedForWrites = false
  readonly #onData = (chunk: Buffer) => this.#read(chunk)
  readonly #onEnd = () => this.#end()
  readonly #onClose = () => this.#close()
  readonly #onError = () => {} // 'close' follows; node:http ignores these resets too
  readonly #onTimeout = () => {
    if (this.#pending.length === 0 && this.#buffer === undefined) this.socket.destroy()
  }
  readonly #onDrain = () => {
    if (this.#pausedForWrites) {
      this.#pausedForWrites = false
      this.socket.resume()
    }
  }

  constructor(front: RawHttp1Front<Route>, socket: Socket, handOver: (socket: Socket) => void) {
    this.#front = front
    this.socket = socket
    this.#handOver = handOver
    for (const [event, listener] of this.#listeners()) socket.on(event, listener)
  }

  /** The socket listeners the front holds while the connection is its own. */
  #listeners(): [string, (chunk: Buffer) => void][] {
    return [
      ['data', this.#onData],
      ['end', this.#onEnd],
      ['close', this.#onClose],
      ['error', this.#onError],
      ['timeout', this.#onTimeout],
      ['drain', this.#onDrain],
    ]
  }

  closeIfIdle(): void {
    if (this.#pending.length === 0 && this.#buffer === undefined) this.socket.destroy()
  }

  timedOut(): void {
    this.#front.notSlow(this)
    if (this.#gone || this.#handingOver) return
    this.#buffer = undefined
    this.#noMore = true
    // Answers already due are written first; the 408 closes the connection after them.
    this.#pending.push({ bytes: TIMED_OUT, close: true })
    this.#flush()
  }

  #read(chunk: Buffer): void {
    this.#buffer = this.#buffer === undefined ? chunk : Buffer.concat([this.#buffer, chunk])
    if (this.#handingOver) {
      // Held for node:http; past a request's worth, stop reading until it takes over.
      if (this.#buffer.length > this.#front.options.maxBodyBytes + MAX_HEAD_BYTES) this.socket.pause()
      return
    }
    if (this.#noMore) {
      this.#buffer = undefined // after `Connection: close`, as node:http does
      return
    }
    this.#parse()
  }

  /** Answers every complete request in the buffer, in order. */
  #parse(): void {
    if (this.#parsing) return
    this.#parsing = true
    const buffer = this.#buffer as Buffer
    const options = this.#front.options
    let offset = 0
    try {
      while (offset < buffer.length && !this.#noMore) {
        if (this.#pending.length >= MAX_PIPELINED) {
          this.socket.pause() // resumed by #flush when the answers are written
          this.#pausedForWrites = true
          break
        }
        const headEnd = buffer.indexOf(HEAD_END, offset)
        if (headEnd === -1) {
          // A head with a bare LF never shows a CRLF CRLF: left to wait for one, it sat until the
          // head timeout (408 after 10 s) where node:http answers 400 at once. Not the front's.
          if (buffer.length - offset > MAX_HEAD_BYTES || hasBareLineFeed(buffer, offset))
            this.#startHandOver(offset)
          else this.#front.slow(this, Date.now() + options.headersTimeoutMs)
          break
        }
        const head =
          headEnd - offset > MAX_HEAD_BYTES
            ? undefined
            : readRequestHead(buffer.toString('latin1', offset, headEnd), this.#front.take)
        if (head === undefined || head.contentLength > options.maxBodyBytes) {
          this.#startHandOver(offset)
          break
        }
        const bodyEnd = headEnd + 4 + head.contentLength
        if (bodyEnd > buffer.length) {
          this.#front.slow(this, Date.now() + options.requestTimeoutMs)
          break
        }
        this.#front.notSlow(this)
        offset = bodyEnd
        if (head.close) this.#noMore = true
        this.#answer(head, buffer.subarray(headEnd + 4, bodyEnd))
      }
    } finally {
      this.#parsing = false
    }
    if (this.#handingOver) return
    this.#buffer = offset >= buffer.length || this.#noMore ? undefined : buffer.subarray(offset)
    if (this.#buffer === undefined) this.#front.notSlow(this)
  }

  #answer(head: RequestHead<Route>, body: Buffer): void {
    this.#front.answered++
    const slot: Pending = { bytes: undefined, close: head.close }
    this.#pending.push(slot)
    const reply = (answer: RawAnswer): void => {
      if (slot.bytes !== undefined || this.#gone) return
      const close = slot.close || answer.close || this.#front.closing
      slot.close = close
      const head =
        `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? 'unknown'}\r\n` +
        `content-type: ${answer.contentType}\r\n` +
        `content-length: ${typeof answer.body === 'string' ? Buffer.byteLength(answer.body) : answer.body.byteLength}\r\n` +
        `${answer.headers}Date: ${this.#front.date()}\r\n` +
        (close ? 'Connection: close\r\n\r\n' : this.#front.keepAlive)
      slot.bytes = typeof answer.body === 'string' ? head + answer.body : [head, answer.body]
      if (this.#pending[0] === slot) this.#flush()
    }
    try {
      this.#front.routes.answer(head, body, reply)
    } catch {
      // A route must not throw; if one does, this request fails alone (a 'data' listener that
      // throws would take the process down) and the connection closes, as its state is unknown.
      reply({ status: 500, contentType: 'application/json', body: INTERNAL_ERROR, headers: '', close: true })
    }
  }

  /** Writes the answers that are due, in request order. */
  #flush(): void {
    const socket = this.socket
    while (this.#pending.length > 0 && this.#pending[0]!.bytes !== undefined) {
      const { bytes, close } = this.#pending.shift() as Pending
      if (this.#gone) return
      if (typeof bytes === 'string') socket.write(bytes)
      else {
        socket.cork()
        socket.write((bytes as [string, Uint8Array])[0], 'latin1')
        socket.write((bytes as [string, Uint8Array])[1])
        socket.uncork()
      }
      if (close) {
        this.#pending.length = 0
        this.#noMore = true
        this.#buffer = undefined
        this.#front.forget(this)
        socket.destroySoon() // as node:http ends a `Connection: close` exchange
        return
      }
    }
    if (this.#pending.length > 0) return
    if (socket.writableNeedDrain && !this.#pausedForWrites) {
      this.#pausedForWrites = true
      socket.pause()
    } else if (this.#pausedForWrites && !socket.writableNeedDrain) {
      this.#pausedForWrites = false
      socket.resume()
    }
    if (this.#handingOver) this.#finishHandOver()
    else if (this.#ended) this.#endWritten()
    else if (this.#front.closing) socket.destroy()
    else if (this.#buffer !== undefined && !this.#parsing) this.#parse()
  }

  #startHandOver(offset: number): void {
    this.#handingOver = true
    this.#front.notSlow(this)
    this.#buffer =
      offset >= (this.#buffer as Buffer).length ? undefined : (this.#buffer as Buffer).subarray(offset)
    if (this.#pending.length === 0 && !this.#parsing) this.#finishHandOver()
    else if (this.#pending.length === 0) queueMicrotask(() => this.#finishHandOver())
  }

  /** node:http takes the connection and the bytes the front has not answered. */
  #finishHandOver(): void {
    if (this.#gone) return
    const socket = this.socket
    this.#gone = true
    this.#front.forget(this)
    this.#front.handedOver++
    for (const [event, listener] of this.#listeners()) socket.off(event, listener)
    socket.setTimeout(0)
    this.#handOver(socket)
    // Synchronously, before the event loop reads more: node:http's parser sees these bytes first.
    if (this.#buffer !== undefined) socket.emit('data', this.#buffer)
    this.#buffer = undefined
    if (this.#ended) socket.emit('end')
    socket.resume()
  }

  #end(): void {
    this.#ended = true
    this.#noMore = true
    if (this.#handingOver) {
      if (this.#pending.length === 0) this.#finishHandOver()
      return
    }
    this.#buffer = undefined // a request cut off by the client's end is not answered
    this.#front.notSlow(this)
    if (this.#pending.length === 0) this.#endWritten()
  }

  /** The client ended its side and has every answer: end ours (node:http does the same). */
  #endWritten(): void {
    this.#front.forget(this)
    this.socket.end()
  }

  #close(): void {
    this.#gone = true
    this.#pending.length = 0
    this.#buffer = undefined
    this.#front.forget(this)
  }
}
