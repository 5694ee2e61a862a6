/**
 * tiercache/hono on @hono/node-server, over real HTTP: there the middleware and `cached()` read
 * request headers from Node's raw header list rather than from a Fetch `Headers`. Names in any
 * case, `If-None-Match`, `Cache-Control` from the client, `vary`, and a header sent twice (read
 * with Node's own rule for repeated headers).
 */
import type { AddressInfo } from 'node:net'
import { connect } from 'node:net'
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { requestId } from 'hono/request-id'
import { createCache } from 'tiercache'
import { cached, cacheMiddleware } from 'tiercache/hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ManualClock } from '../helpers/clock.js'

let server: ReturnType<typeof serve>
let base: string
const calls: Record<string, number> = {}
const count = (name: string) => {
  calls[name] = (calls[name] ?? 0) + 1
  return calls[name]
}

beforeAll(async () => {
  const clock = new ManualClock()
  const cache = createCache({ clock, jitter: 0, ttl: '10m' })
  const app = new Hono()
  app.use('/m/*', cacheMiddleware({ cache, ttl: '30s', clock, vary: ['accept-language'] }))
  app.get('/m/greeting', (c) => c.text(`hello ${c.req.header('accept-language')} ${count('greeting')}`))
  app.get('/m/products', (c) => c.json({ call: count('products') }))
  // No vary: the default key, from the URL node-server builds from Node's request-target.
  app.use('/t/*', cacheMiddleware({ cache, ttl: '30s', clock }))
  app.get('/t/item', (c) => c.json({ call: count('item') }))
  app.get('/t/dated', (c) => c.json({ call: count('dated') }))
  app.get('/t/me', (c) => c.text(`me: ${c.req.header('authorization') ?? 'anonymous'}`))
  app.get(
    '/w/me',
    cached({ cache, ttl: '30s' })((c) => c.text(`me: ${c.req.header('authorization') ?? 'anonymous'}`)),
  )
  // A rewrite by header before the cache (an A/B variant): the key follows the rewritten URL.
  app.use('/r/*', async (c, next) => {
    const variant = c.req.header('x-variant')
    if (variant) c.req.raw = new Request(`${c.req.url}-${variant}`, c.req.raw)
    await next()
  })
  app.use('/r/*', cacheMiddleware({ cache, ttl: '30s', clock }))
  app.get('/r/page', (c) => c.text(`${new URL(c.req.url).pathname} ${count('page')}`))
  app.get(
    '/w/products',
    cached({ cache, ttl: '30s' })((c) => c.json({ call: count('wrapped') })),
  )
  // requestId() before the cache: each answer carries its own request's id, HITs too.
  app.use('/id/*', requestId())
  app.use('/id/m/*', cacheMiddleware({ cache, ttl: '30s', clock }))
  app.get('/id/m/item', (c) => c.json({ call: count('id-m') }))
  app.get(
    '/id/w/item',
    cached({ cache, ttl: '30s' })((c) => c.json({ call: count('id-w') })),
  )
  server = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
  })
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

/** One request with these exact header lines (names as written, repeats kept). */
function raw(path: string, lines: string[]): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(base).port), '127.0.0.1')
    let text = ''
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8')
    })
    socket.on('error', reject)
    socket.on('end', () => {
      const end = text.indexOf('\r\n\r\n')
      resolve({ status: Number(text.split(' ')[1]), head: text.slice(0, end), body: text.slice(end + 4) })
    })
    // Not half-closed: @hono/node-server takes a client's end for an abort. `Connection: close`
    // has the server close the connection once it has answered.
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`,
    )
  })
}

describe('tiercache/hono on @hono/node-server', () => {
  it('If-None-Match, in any case: 304 on a HIT', async () => {
    // Raw requests throughout: fetch sends its own Accept-Language (*), a key of its own here.
    const first = await raw('/m/products', [])
    const etag = /etag: (.*)/i.exec(first.head)![1]!
    expect(first.head).toMatch(/x-cache: MISS/i)
    const second = await raw('/m/products', [`iF-nOnE-mAtCh: ${etag}`])
    expect(second.status).toBe(304)
    expect(second.head).toMatch(/x-cache: HIT/i)
    expect((await raw('/m/products', ['If-None-Match: "other"'])).status).toBe(200)
  })

  it('a HIT goes out with the Date its response was made, and only that one (Node adds none)', async () => {
    const first = await raw('/t/dated', [])
    expect(first.head).toMatch(/x-cache: MISS/i)
    const hit = await raw('/t/dated', [])
    expect(hit.head).toMatch(/x-cache: HIT/i)
    // The cache's clock is a ManualClock, in 2027: the server's own Date would be today's.
    expect(hit.head.match(/^date: .*$/gim)).toEqual([`date: ${new Date(1_800_000_000_000).toUTCString()}`])
  })

  it('the client’s Cache-Control: no-cache goes to the origin', async () => {
    await raw('/m/products', [])
    const before = calls.products ?? 0
    const revalidated = await raw('/m/products', ['CACHE-CONTROL: no-cache'])
    expect(revalidated.status).toBe(200)
    expect(calls.products).toBe(before + 1)
  })

  it('vary: the header’s value is part of the key, whatever the case of its name', async () => {
    const en = await raw('/m/greeting', ['Accept-Language: en'])
    const fr = await raw('/m/greeting', ['accept-language: fr'])
    expect(en.body).toMatch(/^hello en \d+$/)
    expect(fr.body).toMatch(/^hello fr \d+$/)
    const enAgain = await raw('/m/greeting', ['ACCEPT-LANGUAGE: en'])
    expect(enAgain.body).toBe(en.body)
    expect(enAgain.head).toMatch(/x-cache: HIT/i)
  })

  it('a header sent twice is read as Node joins it (a, b), not as its first or last line', async () => {
    const joined = await raw('/m/greeting', ['Accept-Language: de', 'Accept-Language: it'])
    expect(joined.body).toMatch(/^hello de, it \d+$/)
    const again = await raw('/m/greeting', ['accept-language: de, it'])
    expect(again.body).toBe(joined.body)
    expect(again.head).toMatch(/x-cache: HIT/i)
  })

  it('one key for every target of one URL: the query in any order, dot segments', async () => {
    const first = await raw('/t/item?b=2&a=1', [])
    expect(first.head).toMatch(/x-cache: MISS/i)
    for (const target of ['/t/item?b=2&a=1', '/t/item?a=1&b=2', '/t/x/../item?a=1&b=2']) {
      const again = await raw(target, [])
      expect(again.head).toMatch(/x-cache: HIT/i)
      expect(again.body).toBe(first.body)
    }
    expect(calls.item).toBe(1)
  })

  it('a request rewritten before the cache is keyed by its rewritten URL, not by what Node received', async () => {
    const plain = await raw('/r/page', [])
    expect(plain.body).toMatch(/^\/r\/page \d+$/)
    expect((await raw('/r/page', [])).head).toMatch(/x-cache: HIT/i)
    // Same target, another URL once rewritten: its own entry.
    const variant = await raw('/r/page', ['x-variant: b'])
    expect(variant.head).toMatch(/x-cache: MISS/i)
    expect(variant.body).toMatch(/^\/r\/page-b \d+$/)
    const variantAgain = await raw('/r/page', ['x-variant: b'])
    expect(variantAgain.head).toMatch(/x-cache: HIT/i)
    expect(variantAgain.body).toBe(variant.body)
    expect((await raw('/r/page', [])).body).toBe(plain.body)
  })

  it('a request with Authorization, in any case, is left to the handler, behind the middleware and cached()', async () => {
    for (const path of ['/t/me', '/w/me']) {
      await raw(path, [])
      expect((await raw(path, [])).head, path).toMatch(/x-cache: HIT/i)
      // It used to be a HIT: what was stored for anyone, answered to a caller with credentials.
      const ada = await raw(path, ['AUTHORIZATION: Bearer ada'])
      expect(ada.body, path).toBe('me: Bearer ada')
      expect(ada.head, path).toMatch(/x-cache: BYPASS/i)
      expect((await raw(path, ['authorization: Bearer grace'])).body, path).toBe('me: Bearer grace')
      expect((await raw(path, [])).body, path).toBe('me: anonymous')
    }
  })

  it("a header set before the cache (requestId()) is each request's own, on a HIT too", async () => {
    for (const path of ['/id/m/item', '/id/w/item']) {
      for (const [id, status] of [
        ['one', 'MISS'],
        ['two', 'HIT'],
        ['three', 'HIT'],
      ]) {
        const answer = await raw(path, [`X-Request-Id: ${id}`])
        expect(answer.head, path).toMatch(new RegExp(`x-cache: ${status}`, 'i'))
        expect(answer.head, path).toMatch(new RegExp(`x-request-id: ${id}\r`, 'i'))
        expect(answer.body, path).toBe('{"call":1}')
      }
    }
  })

  it('cached() reads the same way: If-None-Match gives a 304 on its HIT', async () => {
    const first = await fetch(`${base}/w/products`)
    const etag = first.headers.get('etag')!
    expect((await raw('/w/products', [`If-None-Match: ${etag}`])).status).toBe(304)
  })
})
