/**
 * The node:http fast path (`POST /`, `/pipeline`, `/multi-exec`, path-style GETs) against the Hono app it
 * stands in for: the same requests, good and bad, sent both ways to one proxy on the real
 * cluster, must get the same status, content type and body. Also: which requests take it.
 */
import { once } from 'node:events'
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { pathStyleSegments } from '../../src/proxy/fast-path.js'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { startTestProxy, TOKENS, upstashClient } from '../helpers/proxy.js'

let proxy: RunningProxy
const ns = `fast-${Date.now()}`

interface Case {
  name: string
  /** A body route, or a path-style URL (sent as a GET, with no body). */
  path: string
  body?: string
  headers?: Record<string, string>
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
const std = bearer(TOKENS.standard)

/** Requests whose answers do not depend on what ran before (each case reads what it wrote itself). */
const CASES: Case[] = [
  { name: 'SET', path: '/', body: JSON.stringify(['SET', `${ns}:a`, 'v']), headers: std },
  { name: 'GET', path: '/', body: JSON.stringify(['GET', `${ns}:a`]), headers: std },
  {
    name: 'GET, base64',
    path: '/',
    body: JSON.stringify(['GET', `${ns}:a`]),
    headers: { ...std, 'upstash-encoding': 'base64' },
  },
  {
    name: 'GET, resp2',
    path: '/',
    body: JSON.stringify(['GET', `${ns}:a`]),
    headers: { ...std, 'upstash-response-format': 'resp2' },
  },
  { name: 'numbers and booleans', path: '/', body: JSON.stringify(['ECHO', 12, true]), headers: std },
  { name: 'Redis error', path: '/', body: JSON.stringify(['HGET', `${ns}:a`, 'f']), headers: std },
  { name: 'unknown command', path: '/', body: JSON.stringify(['NOPE', 'x']), headers: std },
  { name: 'no token', path: '/', body: JSON.stringify(['GET', `${ns}:a`]) },
  { name: 'wrong token', path: '/', body: JSON.stringify(['GET', `${ns}:a`]), headers: bearer('nope') },
  {
    name: 'read-only token writes',
    path: '/',
    body: JSON.stringify(['SET', `${ns}:a`, 'w']),
    headers: bearer(TOKENS.readonly),
  },
  { name: 'admin command', path: '/', body: JSON.stringify(['FLUSHALL']), headers: std },
  {
    name: 'prefix outside',
    path: '/',
    body: JSON.stringify(['GET', `${ns}:a`]),
    headers: bearer(TOKENS.prefixed),
  },
  { name: 'not JSON', path: '/', body: '["SET", ', headers: std },
  { name: 'empty command', path: '/', body: '[]', headers: std },
  { name: 'object body', path: '/', body: '{"a":1}', headers: std },
  { name: 'bad argument', path: '/', body: JSON.stringify(['SET', `${ns}:a`, { x: 1 }]), headers: std },
  {
    name: 'too large',
    path: '/',
    body: JSON.stringify(['SET', `${ns}:big`, 'x'.repeat(5000)]),
    headers: std,
  },
  {
    name: 'pipeline across slots, one item failing',
    path: '/pipeline',
    body: JSON.stringify([
      ['SET', `${ns}:p1`, '1'],
      ['INCR', `${ns}:p1`],
      ['HGET', `${ns}:p1`, 'f'],
      ['GET', `${ns}:other`],
    ]),
    headers: std,
  },
  { name: 'pipeline not a list', path: '/pipeline', body: '["GET", "a"]', headers: std },
  { name: 'pipeline empty', path: '/pipeline', body: '[]', headers: std },
  {
    name: 'pipeline with a refused item',
    path: '/pipeline',
    body: JSON.stringify([['GET', `${ns}:a`], ['FLUSHALL']]),
    headers: std,
  },
  {
    name: 'transaction in one slot',
    path: '/multi-exec',
    body: JSON.stringify([
      ['SET', `{${ns}}:t`, '1'],
      ['INCR', `{${ns}}:t`],
    ]),
    headers: std,
  },
  {
    name: 'transaction across slots',
    path: '/multi-exec',
    body: JSON.stringify([
      ['SET', `${ns}:x1`, '1'],
      ['SET', `${ns}:x2`, '2'],
    ]),
    headers: std,
  },
  // Path style, as webdis and curl users send it: GET /<cmd>/<arg>...
  { name: 'path style GET', path: `/GET/${ns}:a`, headers: std },
  { name: 'path style, command in lower case', path: `/get/${ns}:a`, headers: std },
  { name: 'path style SET', path: `/SET/${ns}:path/v1`, headers: std },
  { name: 'path style, percent-encoded argument', path: `/SET/${ns}:path/a%20b%2Fc%E2%82%AC`, headers: std },
  { name: 'path style, read back', path: `/GET/${ns}:path`, headers: std },
  { name: 'path style, hash tag', path: `/SET/{${ns}}:tag/v`, headers: std },
  { name: 'path style, empty last argument', path: `/SET/${ns}:empty/`, headers: std },
  { name: 'path style, malformed percent-encoding', path: `/GET/${ns}:%zz`, headers: std },
  { name: 'path style, base64', path: `/GET/${ns}:a`, headers: { ...std, 'upstash-encoding': 'base64' } },
  {
    name: 'path style, resp2',
    path: `/GET/${ns}:a`,
    headers: { ...std, 'upstash-response-format': 'resp2' },
  },
  { name: 'path style, no token', path: `/GET/${ns}:a` },
  { name: 'path style, read-only token writes', path: `/SET/${ns}:a/w`, headers: bearer(TOKENS.readonly) },
  { name: 'path style, admin command', path: '/FLUSHALL', headers: std },
  { name: 'path style, wrong arity', path: '/GET', headers: std },
  { name: 'path style, Redis error', path: `/HGET/${ns}:a/f`, headers: std },
  { name: 'path style, prefix outside', path: `/GET/${ns}:a`, headers: bearer(TOKENS.prefixed) },
]

/** How a case is sent: a body route as a JSON POST, a path-style URL as a GET. */
function init(c: Case): RequestInit {
  return c.body === undefined
    ? { method: 'GET', headers: { ...c.headers } }
    : { method: 'POST', headers: { 'content-type': 'application/json', ...c.headers }, body: c.body }
}

async function viaHttp(c: Case) {
  return snapshot(await fetch(`${proxy.url}${c.path}`, init(c)))
}

async function viaHono(c: Case) {
  return snapshot(await proxy.proxy.app.request(c.path, init(c)))
}

async function snapshot(response: Response) {
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    body: Buffer.from(await response.arrayBuffer()).toString('base64'),
    syncToken: /^[0-9a-f]{8}-\d+$/.test(response.headers.get('upstash-sync-token') ?? ''),
    requestId: (response.headers.get('x-request-id') ?? '').length > 0,
  }
}

describe.each([{ front: 'raw' }, { front: 'node' }])(
  'the fast path on the $front HTTP front answers as the Hono app does',
  ({ front }) => {
    beforeAll(async () => {
      proxy = await startTestProxy({
        redis: inject('clusterUrl'),
        maxBodyBytes: 4096,
        rawHttp: front === 'raw',
      })
    })
    afterAll(async () => {
      await proxy.close('1s')
    })

    it.each(CASES)('$name', async (c) => {
      // The Hono app first for writes, then HTTP: the same command twice gives the same answer
      // for every case above (SET → OK, INCR on a key just SET in the same pipeline, ...).
      const hono = await viaHono(c)
      const http = await viaHttp(c)
      expect(http).toEqual(hono)
      expect(http.syncToken).toBe(true)
      expect(http.requestId).toBe(true)
    })

    it('a too-large body closes the connection (the rest of it is never read)', async () => {
      const response = await fetch(`${proxy.url}/`, {
        method: 'POST',
        headers: { ...std, 'content-type': 'application/json' },
        body: JSON.stringify(['SET', `${ns}:big`, 'x'.repeat(5000)]),
      })
      expect(response.status).toBe(413)
      expect(response.headers.get('connection')).toBe('close')
    })

    it('keeps the client’s X-Request-Id when it is plain, and makes one up otherwise', async () => {
      const send = (id: string) =>
        fetch(`${proxy.url}/`, { method: 'POST', headers: { ...std, 'x-request-id': id }, body: '["PING"]' })
      expect((await send('abc-123=')).headers.get('x-request-id')).toBe('abc-123=')
      const made = (await send('no spaces please')).headers.get('x-request-id')
      const again = (await send('no spaces please')).headers.get('x-request-id')
      // This proxy's boot id, then a count: unique per request, and one boot id per proxy.
      expect(made).toMatch(/^[0-9a-f]{8}-r[0-9a-z]+$/)
      expect(again).toMatch(/^[0-9a-f]{8}-r[0-9a-z]+$/)
      expect(again).not.toBe(made)
      expect(again!.slice(0, 8)).toBe(made!.slice(0, 8))
    })

    it('a client that leaves mid-body is let go: nothing stays in flight', async () => {
      const socket = connect(proxy.port, '127.0.0.1')
      await new Promise((r) => socket.once('connect', r))
      socket.write(
        `POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKENS.standard}\r\nContent-Length: 100\r\n\r\n["GET",`,
      )
      // node:http begins the request at its head; the raw front only once the body is whole.
      if (front === 'raw') await until(() => proxy.rawFront?.connections === 1)
      else await until(() => proxy.proxy.inFlight() === 1)
      socket.destroy()
      await until(() => proxy.proxy.inFlight() === 0 && (proxy.rawFront?.connections ?? 0) === 0)
      const after = await fetch(`${proxy.url}/`, { method: 'POST', headers: std, body: '["PING"]' })
      expect(await after.json()).toEqual({ result: 'PONG' })
    })

    it('a refused request leaves its keep-alive connection usable (its body is drained)', async () => {
      // Node's fetch reuses the connection: a 401 whose body was never read would poison the next request.
      for (let i = 0; i < 5; i++) {
        const refused = await fetch(`${proxy.url}/`, {
          method: 'POST',
          body: JSON.stringify(['SET', 'k', 'x'.repeat(2000)]),
        })
        expect(refused.status).toBe(401)
        await refused.text()
        const ok = await fetch(`${proxy.url}/`, { method: 'POST', headers: std, body: '["PING"]' })
        expect(await ok.json()).toEqual({ result: 'PONG' })
      }
    })

    it('counts fast-path requests in the metrics by route and status, like the Hono routes', async () => {
      await fetch(`${proxy.url}/pipeline`, { method: 'POST', headers: std, body: '[["PING"]]' })
      await fetch(`${proxy.url}/`, { method: 'POST', body: '["PING"]' })
      await fetch(`${proxy.url}/PING`, { headers: std })
      const metrics = await (await fetch(`${proxy.url}/metrics`)).text()
      expect(metrics).toMatch(/tiercache_proxy_requests_total\{route="\/<command>",status="200"\} [1-9]/)
      expect(metrics).toMatch(/tiercache_proxy_requests_total\{route="\/pipeline",status="200"\} [1-9]/)
      expect(metrics).toMatch(/tiercache_proxy_requests_total\{route="\/",status="401"\} [1-9]/)
    })

    it('counts every authorized command by name, once each, in pipelines too', async () => {
      const count = async (name: string) => {
        const text = await (await fetch(`${proxy.url}/metrics`)).text()
        return Number(
          new RegExp(`tiercache_proxy_commands_total\\{command="${name}"\\} (\\d+)`).exec(text)?.[1] ?? 0,
        )
      }
      const [get, set, lpush] = [await count('get'), await count('set'), await count('lpush')]
      const pipeline = [
        ['GET', `${ns}:c`],
        ['GET', `${ns}:c`],
        ['SET', `${ns}:c`, '1'],
        ['GET', `${ns}:c`],
      ]
      expect(
        (
          await fetch(`${proxy.url}/pipeline`, {
            method: 'POST',
            headers: std,
            body: JSON.stringify(pipeline),
          })
        ).status,
      ).toBe(200)
      // Refused at its second command: the first is counted (as before), nothing after it.
      const refused = [['LPUSH', `${ns}:l`, 'x'], ['FLUSHALL'], ['SET', `${ns}:c`, '2']]
      expect(
        (
          await fetch(`${proxy.url}/pipeline`, {
            method: 'POST',
            headers: std,
            body: JSON.stringify(refused),
          })
        ).status,
      ).toBe(403)
      expect([await count('get'), await count('set'), await count('lpush')]).toEqual([
        get + 3,
        set + 1,
        lpush + 1,
      ])
    })

    it('takes plain path-style GETs, and leaves to Hono the URLs a URL parser would rewrite', () => {
      expect(pathStyleSegments('/GET/user:1')).toEqual(['GET', 'user:1'])
      expect(pathStyleSegments('/set/%7Bu%7D:1/a%20b/')).toEqual(['set', '%7Bu%7D:1', 'a%20b', ''])
      expect(pathStyleSegments('/GET/{u}:1')).toEqual(['GET', '{u}:1'])
      for (const url of [
        '/GET/a?EX=10', // query arguments and ?_token=
        '/GET/a/../b', // dot segments, resolved by a URL parser
        '/GET/%2e%2E',
        '/GET/./a',
        '/GET/a\\b', // a backslash is a slash to a URL parser
        '/GET/a"b', // quotes and non-ASCII are percent-encoded by it
        '/GET/é',
        '/healthz', // not a command: Hono's route (or its 404)
        '/nope/a',
        '/%zz/a',
        '//GET/a',
        '/',
        '',
      ]) {
        expect(pathStyleSegments(url), url).toBeUndefined()
      }
    })

    it('a path-style GET with a body: the body is drained, the connection carries the next request', async () => {
      const socket = connect(proxy.port, '127.0.0.1')
      await new Promise((r) => socket.once('connect', r))
      let received = ''
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1')
      })
      const auth = `Authorization: Bearer ${TOKENS.standard}\r\n`
      socket.write(`GET /ECHO/first HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 5\r\n\r\nhello`)
      socket.write(`GET /ECHO/second HTTP/1.1\r\nHost: x\r\n${auth}\r\n`)
      await until(() => received.includes('"result":"second"'))
      expect(received).toContain('{"result":"first"}')
      socket.destroy()
    })

    it('leaves everything else to the Hono app: queries, other paths and methods', async () => {
      const viaQuery = await fetch(`${proxy.url}/?_token=${TOKENS.standard}`, {
        method: 'POST',
        body: '["PING"]',
      })
      expect(await viaQuery.json()).toEqual({ result: 'PONG' })
      const pathStyle = await fetch(`${proxy.url}/ECHO/a?_token=${TOKENS.standard}`)
      expect(await pathStyle.json()).toEqual({ result: 'a' })
      const withArguments = await fetch(`${proxy.url}/SET/${ns}:q/v?EX=100`, { headers: std })
      expect(await withArguments.json()).toEqual({ result: 'OK' })
      const posted = await fetch(`${proxy.url}/ECHO`, { method: 'POST', headers: std, body: 'from the body' })
      expect(await posted.json()).toEqual({ result: 'from the body' })
      const wrongMethod = await fetch(`${proxy.url}/pipeline`, { method: 'DELETE', headers: std })
      expect(wrongMethod.status).toBe(405)
      expect((await fetch(`${proxy.url}/healthz`)).status).toBe(200)
    })
  },
)

describe('the raw HTTP/1.1 front in the proxy', () => {
  let raw: RunningProxy
  let node: RunningProxy
  beforeAll(async () => {
    ;[raw, node] = await Promise.all([
      startTestProxy({ redis: inject('clusterUrl') }),
      startTestProxy({ redis: inject('clusterUrl'), rawHttp: false }),
    ])
  })
  afterAll(async () => {
    await Promise.all([raw.close('1s'), node.close('1s')])
  })

  it('answers @upstash/redis itself, connections and all: none handed to node:http', async () => {
    const before = raw.rawFront!.answered
    const redis = upstashClient(raw.url)
    await redis.set(`${ns}:u`, 'v')
    expect(await redis.get(`${ns}:u`)).toBe('v')
    const pipeline = redis.pipeline()
    for (let i = 0; i < 20; i++) pipeline.incr(`${ns}:u${i}`)
    await pipeline.exec()
    await Promise.all(Array.from({ length: 50 }, (_, i) => redis.echo(`m${i}`)))
    expect(raw.rawFront!.answered - before).toBe(53)
    expect(raw.rawFront!.handedOver).toBe(0)
  })

  it('writes the head node:http writes, header for header', async () => {
    const request = `POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKENS.standard}\r\nx-request-id: same\r\nContent-Length: 8\r\n\r\n["PING"]`
    const ask = (port: number) =>
      new Promise<string>((resolve) => {
        const socket = connect(port, '127.0.0.1')
        let text = ''
        socket.on('data', (chunk: Buffer) => {
          text += chunk.toString('latin1')
          if (text.endsWith('{"result":"PONG"}')) {
            socket.destroy()
            resolve(text)
          }
        })
        socket.write(request)
      })
    const plain = (head: string) =>
      head.replace(/^(Date|upstash-sync-token): .*$/gim, '$1: …').replace(/\r\n/g, '\n')
    const [fromRaw, fromNode] = await Promise.all([ask(raw.port), ask(node.port)])
    expect(plain(fromRaw)).toBe(plain(fromNode))
    expect(fromRaw).toContain('\r\nx-request-id: same\r\n')
  })

  it('graceful shutdown: an idle connection is closed at once, a busy one gets its answer first', async () => {
    const closing = await startTestProxy({ redis: inject('clusterUrl') })
    const idle = connect(closing.port, '127.0.0.1')
    const busy = connect(closing.port, '127.0.0.1')
    const idleClosed = new Promise((r) => idle.on('close', r))
    idle.resume() // its 401 is read and dropped, so its end is seen
    let answer = ''
    busy.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1')
    })
    const busyClosed = new Promise((r) => busy.on('close', r))
    const body = JSON.stringify(['BLPOP', `${ns}:never-pushed`, '0.3'])
    await Promise.all([once(idle, 'connect'), once(busy, 'connect')])
    idle.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n["PING"]`)
    await until(() => closing.rawFront!.answered === 1)
    busy.write(
      `POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKENS.standard}\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    )
    await until(() => closing.proxy.inFlight() === 1)
    const closed = closing.close('5s')
    await idleClosed
    await busyClosed
    await closed
    expect(answer).toContain('Connection: close')
    expect(answer).toMatch(/\{"result":null\}$/)
  })
})

/** Waits (up to 5 s) until `done()` holds. */
async function until(done: () => boolean): Promise<void> {
  const end = Date.now() + 5000
  while (!done()) {
    if (Date.now() > end) throw new Error('timed out waiting for a condition')
    await new Promise((r) => setTimeout(r, 10))
  }
}
