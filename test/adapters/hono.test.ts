/**
 * tiercache/hono with `app.request()`: every caching rule of the middleware, `cached()` as a
 * wrapper and as a TC39 method decorator, `c.var.cache`, and `waitUntil`.
 */

import { type Context, Hono } from 'hono'
import { cors } from 'hono/cors'
import { HTTPException } from 'hono/http-exception'
import { requestId } from 'hono/request-id'
import { type Cache, createCache, InvalidOptionError } from 'tiercache'
import { cacheContext, cached, cacheMiddleware } from 'tiercache/hono'
import { describe, expect, it } from 'vitest'
import { ManualClock } from '../helpers/clock.js'

/** An app whose routes count their calls. */
function catalogue(options: Partial<Parameters<typeof cacheMiddleware>[0]> = {}) {
  const clock = new ManualClock()
  const cache = createCache({ clock, jitter: 0, grace: '1m', ttl: '10m' })
  const calls: Record<string, number> = {}
  const count = (name: string) => {
    calls[name] = (calls[name] ?? 0) + 1
    return calls[name]
  }
  const app = new Hono()
  app.use('*', cacheMiddleware({ cache, ttl: '30s', clock, ...options }))
  app.get('/products', (c) => c.json({ products: ['shoe', 'hat'], call: count('products') }))
  app.get('/search', (c) => c.json({ q: c.req.query(), call: count('search') }))
  app.get('/missing', (c) => c.json({ error: 'no such product', call: count('missing') }, 404))
  app.get('/private', (c) => {
    count('private')
    return c.json({ me: 'ada' }, 200, { 'cache-control': 'private, max-age=60' })
  })
  app.get('/no-store', (c) => {
    count('no-store')
    return c.json({}, 200, { 'cache-control': 'no-store' })
  })
  app.get('/cookie', (c) => {
    count('cookie')
    c.header('set-cookie', 'session=1')
    return c.text('hello')
  })
  app.get('/big', (c) => {
    count('big')
    return c.text('x'.repeat(5000))
  })
  app.get('/image', (c) => {
    count('image')
    return c.body(new Uint8Array([0, 255, 1, 254, 137, 80, 78, 71]), 200, { 'content-type': 'image/png' })
  })
  app.get('/greeting', (c) => c.text(`hello ${c.req.header('accept-language')} ${count('greeting')}`))
  app.post('/products', (c) => c.json({ created: count('post') }, 201))
  return { app, cache, calls, clock }
}

describe('cacheMiddleware', () => {
  it('GET 200: MISS, then HIT from the cache with the same body, an ETag and Server-Timing', async () => {
    const { app, calls } = catalogue()
    const first = await app.request('/products')
    expect(first.status).toBe(200)
    expect(first.headers.get('x-cache')).toBe('MISS')
    expect(first.headers.get('server-timing')).toMatch(/^tiercache;desc="MISS origin";dur=\d+(\.\d{1,2})?$/)
    const body = await first.json()
    const second = await app.request('/products')
    expect(second.headers.get('x-cache')).toBe('HIT')
    expect(second.headers.get('server-timing')).toMatch(/^tiercache;desc="HIT l1";dur=\d+(\.\d{1,2})?$/)
    expect(second.headers.get('content-type')).toMatch(/application\/json/)
    expect(await second.json()).toEqual(body)
    expect(second.headers.get('etag')).toMatch(/^"[\w-]{27}"$/)
    expect(second.headers.get('etag')).toBe(first.headers.get('etag'))
    expect(calls.products).toBe(1)
  })

  it('If-None-Match with the ETag: 304 and no body', async () => {
    const { app } = catalogue()
    const etag = (await app.request('/products')).headers.get('etag')!
    const revalidated = await app.request('/products', { headers: { 'if-none-match': `W/${etag}` } })
    expect(revalidated.status).toBe(304)
    expect(await revalidated.text()).toBe('')
    expect(revalidated.headers.get('etag')).toBe(etag)
    expect((await app.request('/products', { headers: { 'if-none-match': '"other"' } })).status).toBe(200)
  })

  it('past the response ttl, inside grace: STALE once, then the next request produces a new one', async () => {
    const { app, clock, calls, cache } = catalogue()
    await app.request('/products')
    clock.advance(31_000) // past the 30 s fresh time; the cache's grace is 1 m
    const stale = await app.request('/products')
    expect(stale.headers.get('x-cache')).toBe('STALE')
    expect((await stale.json()).call).toBe(1)
    await cache.settled()
    expect(calls.products).toBe(1) // a handler chain cannot be re-run in the background
    const next = await app.request('/products')
    expect(next.headers.get('x-cache')).toBe('MISS')
    expect((await next.json()).call).toBe(2)
    expect((await app.request('/products')).headers.get('x-cache')).toBe('HIT')
  })

  it('with refresh, a stale response is refreshed in the background while it is served', async () => {
    const clock = new ManualClock()
    const cache = createCache({ clock, jitter: 0, grace: '1m' })
    let version = 0
    const app = new Hono()
    app.use('*', cacheMiddleware({ cache, ttl: '30s', clock, refresh: (request) => app.fetch(request) }))
    app.get('/v', (c) => c.text(`v${++version}`))
    expect(await (await app.request('/v')).text()).toBe('v1')
    clock.advance(31_000)
    const stale = await app.request('/v')
    expect(stale.headers.get('x-cache')).toBe('STALE')
    expect(await stale.text()).toBe('v1')
    await cache.settled()
    const fresh = await app.request('/v')
    expect(fresh.headers.get('x-cache')).toBe('HIT')
    expect(await fresh.text()).toBe('v2')
  })

  it('the key is method + path + sorted query', async () => {
    const { app, calls } = catalogue()
    await app.request('/search?a=1&b=2')
    expect((await app.request('/search?b=2&a=1')).headers.get('x-cache')).toBe('HIT')
    expect((await app.request('/search?a=1&b=3')).headers.get('x-cache')).toBe('MISS')
    expect(calls.search).toBe(2)
  })

  it('vary headers are part of the key when asked', async () => {
    const plain = catalogue()
    await plain.app.request('/greeting', { headers: { 'accept-language': 'en' } })
    const fr = await plain.app.request('/greeting', { headers: { 'accept-language': 'fr' } })
    expect(await fr.text()).toBe('hello en 1') // without vary: one entry for both
    const varied = catalogue({ vary: ['accept-language'] })
    await varied.app.request('/greeting', { headers: { 'accept-language': 'en' } })
    const frVaried = await varied.app.request('/greeting', { headers: { 'accept-language': 'fr' } })
    expect(await frVaried.text()).toBe('hello fr 2')
    expect(frVaried.headers.get('x-cache')).toBe('MISS')
  })

  it('only GET and HEAD: POST bypasses; HEAD is answered from GET’s entry without a body', async () => {
    const { app, calls } = catalogue()
    expect((await app.request('/products', { method: 'POST' })).headers.get('x-cache')).toBe('BYPASS')
    expect((await app.request('/products', { method: 'POST' })).status).toBe(201)
    expect(calls.post).toBe(2)
    const coldHead = await app.request('/products', { method: 'HEAD' })
    expect(coldHead.headers.get('x-cache')).toBe('BYPASS') // a HEAD has no body to store
    await app.request('/products')
    const head = await app.request('/products', { method: 'HEAD' })
    expect(head.headers.get('x-cache')).toBe('HIT')
    expect(await head.text()).toBe('')
  })

  it('never caches another status, private or no-store responses, or responses with Set-Cookie', async () => {
    const { app, calls } = catalogue()
    for (const path of ['/missing', '/private', '/no-store', '/cookie']) {
      const first = await app.request(path)
      expect(first.headers.get('x-cache')).toBe('BYPASS')
      await app.request(path)
    }
    expect(calls).toMatchObject({ missing: 2, private: 2, 'no-store': 2, cookie: 2 })
    expect((await app.request('/cookie')).headers.get('set-cookie')).toBe('session=1')
  })

  it('request Cache-Control: no-store bypasses the cache; no-cache revalidates and stores', async () => {
    const { app, calls } = catalogue()
    await app.request('/products')
    const bypass = await app.request('/products', { headers: { 'cache-control': 'no-store' } })
    expect(bypass.headers.get('x-cache')).toBe('BYPASS')
    expect((await bypass.json()).call).toBe(2)
    const revalidated = await app.request('/products', { headers: { 'cache-control': 'no-cache' } })
    expect(revalidated.headers.get('x-cache')).toBe('MISS')
    expect((await revalidated.json()).call).toBe(3)
    const after = await app.request('/products')
    expect(after.headers.get('x-cache')).toBe('HIT')
    expect((await after.json()).call).toBe(3) // the revalidated response was stored
    expect(calls.products).toBe(3)
  })

  it('a body over maxBodyBytes passes through whole and uncached', async () => {
    const { app, calls } = catalogue({ maxBodyBytes: 1024 })
    const first = await app.request('/big')
    expect(first.headers.get('x-cache')).toBe('BYPASS')
    expect(await first.text()).toBe('x'.repeat(5000))
    expect((await app.request('/big')).headers.get('x-cache')).toBe('BYPASS')
    expect(calls.big).toBe(2)
  })

  it('binary bodies come back byte for byte', async () => {
    const { app } = catalogue()
    await app.request('/image')
    const hit = await app.request('/image')
    expect(hit.headers.get('x-cache')).toBe('HIT')
    expect([...new Uint8Array(await hit.arrayBuffer())]).toEqual([0, 255, 1, 254, 137, 80, 78, 71])
  })

  it('a bad option throws at setup, naming it', () => {
    const cache = createCache()
    expect(() => cacheMiddleware({ cache, maxBodyBytes: -1 })).toThrowError(InvalidOptionError)
    expect(() => cacheMiddleware({ cache, ttl: 'soon' as '1s' })).toThrowError(/ttl/)
    expect(() => cacheMiddleware({ cache: {} as Cache })).toThrowError(/cache/)
    expect(() => cached({ statuses: ['200' as unknown as number] })).toThrowError(/statuses/)
    // An unknown name is refused, not ignored (a misspelt ttl would leave the default in force).
    expect(() => cacheMiddleware({ cache, TTL: '1h' } as never)).toThrowError(
      /^Invalid option TTL: is not an option \(did you mean ttl\?\); known: cache, ttl, methods/,
    )
    expect(() => cached({ maxAge: '1h' } as never)).toThrowError(
      /^Invalid option maxAge: is not an option; known:/,
    )
  })

  it('background work goes to c.executionCtx.waitUntil when there is one', async () => {
    const { app } = catalogue()
    const handed: Array<Promise<unknown>> = []
    const executionCtx = {
      waitUntil: (p: Promise<unknown>) => handed.push(p),
      passThroughOnException: () => {},
      props: {},
    }
    await app.request('/products', {}, undefined, executionCtx)
    expect(handed).toHaveLength(1)
    await Promise.all(handed)
  })
})

describe('headers that middleware before the cache sets for one request', () => {
  /** requestId() before the cache, and headers set by hand before next(): the handler's route behind it. */
  function app(wrap: 'middleware' | 'cached') {
    const cache = createCache()
    const app = new Hono()
    app.use(requestId())
    app.use(async (c, next) => {
      c.header('x-shard', c.req.header('x-shard') ?? 'none')
      c.header('x-frame-options', 'DENY') // the handler sets its own below
      if (c.req.header('x-login')) c.header('set-cookie', 'session=1')
      if (c.req.header('x-private')) c.header('cache-control', 'private')
      if (c.req.header('x-lang')) c.header('vary', 'accept-language')
      await next()
    })
    let calls = 0
    const handler = (c: Context) => c.json({ call: ++calls }, 200, { 'x-frame-options': 'SAMEORIGIN' })
    if (wrap === 'middleware') {
      app.use('/p', cacheMiddleware({ cache, ttl: '1m' }))
      app.get('/p', handler)
    } else app.get('/p', cached({ cache, ttl: '1m' })(handler))
    const get = (id: string, headers: Record<string, string> = {}) =>
      app.request('/p', { headers: { 'x-request-id': id, ...headers } })
    return { get, calls: () => calls }
  }

  for (const wrap of ['middleware', 'cached'] as const) {
    it(`${wrap}: are not stored, and every answer carries its own request's (requestId())`, async () => {
      const { get, calls } = app(wrap)
      const first = await get('req-1', { 'x-shard': 'a' })
      expect(first.headers.get('x-cache')).toBe('MISS')
      expect(first.headers.get('x-request-id')).toBe('req-1')
      expect(first.headers.get('x-shard')).toBe('a')
      for (const [id, shard] of [
        ['req-2', 'b'],
        ['req-3', 'c'],
      ]) {
        const hit = await get(id!, { 'x-shard': shard! })
        expect(hit.headers.get('x-cache')).toBe('HIT')
        // Before: req-1's id and shard, on every HIT.
        expect(hit.headers.get('x-request-id')).toBe(id)
        expect(hit.headers.get('x-shard')).toBe(shard)
        // The handler's own value of a header the middleware had set is the one stored.
        expect(hit.headers.get('x-frame-options')).toBe('SAMEORIGIN')
        expect(await hit.json()).toEqual({ call: 1 })
      }
      expect(calls()).toBe(1)
    })

    it(`${wrap}: a cookie, Cache-Control: private or Vary set before the cache still keeps the response out of it`, async () => {
      const { get, calls } = app(wrap)
      for (const [name, header, value] of [
        ['x-login', 'set-cookie', 'session=1'],
        ['x-private', 'cache-control', 'private'],
        ['x-lang', 'vary', 'accept-language'],
      ] as const) {
        const answer = await get(`req-${name}`, { [name]: '1' })
        expect(answer.headers.get('x-cache'), name).toBe('BYPASS')
        expect(answer.headers.get(header), name).toBe(value)
        expect(answer.headers.get('x-request-id'), name).toBe(`req-${name}`)
      }
      expect((await get('req-2')).headers.get('x-cache')).toBe('MISS')
      expect(calls()).toBe(4)
    })
  }

  it('CORS for each origin, with vary: origin: a HIT answers its own origin', async () => {
    const cache = createCache()
    const app = new Hono()
    app.use(cors({ origin: ['https://a.example', 'https://b.example'] }))
    app.use('/p', cacheMiddleware({ cache, ttl: '1m', vary: ['origin'] }))
    app.get('/p', (c) => c.json({ ok: true }))
    for (const origin of ['https://a.example', 'https://b.example']) {
      for (const status of ['MISS', 'HIT']) {
        const r = await app.request('/p', { headers: { origin } })
        expect(r.headers.get('x-cache')).toBe(status)
        expect(r.headers.get('access-control-allow-origin')).toBe(origin)
      }
    }
  })
})

describe('cached() and c.var.cache', () => {
  it('wraps one route, taking the cache from c.var.cache', async () => {
    const cache = createCache()
    let calls = 0
    const app = new Hono()
    app.use('*', cacheContext(cache))
    app.get(
      '/product/:id',
      cached({ ttl: '1m' })((c) => c.json({ id: c.req.param('id'), call: ++calls })),
    )
    app.get('/manual/:id', async (c) =>
      c.json(
        await c.var.cache.getOrLoad(`manual:${c.req.param('id')}`, async (key) => ({ key, call: ++calls })),
      ),
    )
    expect((await app.request('/product/1')).headers.get('x-cache')).toBe('MISS')
    const hit = await app.request('/product/1')
    expect(hit.headers.get('x-cache')).toBe('HIT')
    expect(await hit.json()).toEqual({ id: '1', call: 1 })
    expect(await (await app.request('/manual/7')).json()).toEqual({ key: 'manual:7', call: 2 })
    expect(await (await app.request('/manual/7')).json()).toEqual({ key: 'manual:7', call: 2 })
  })

  it('hands handlers behind cacheMiddleware its cache in c.var.cache', async () => {
    const cache = createCache()
    const app = new Hono()
    app.use('/p/*', cacheMiddleware({ cache, ttl: '1m' }))
    let seen: Cache | undefined
    app.get('/p/:id', (c) => {
      seen = c.var.cache
      return c.json({ id: c.req.param('id') })
    })
    expect((await app.request('/p/1')).headers.get('x-cache')).toBe('MISS')
    expect(seen).toBe(cache)
    seen = undefined
    // A HIT runs no handler.
    expect((await app.request('/p/1')).headers.get('x-cache')).toBe('HIT')
    expect(seen).toBeUndefined()
  })

  it('as a TC39 method decorator on a class-based handler (this is kept)', async () => {
    const cache = createCache()
    class Products {
      calls = 0
      @cached({ cache, ttl: '1m' })
      async show(c: import('hono').Context) {
        this.calls++
        return c.json({ id: c.req.param('id'), calls: this.calls })
      }
    }
    const products = new Products()
    const app = new Hono()
    app.get('/p/:id', (c) => products.show(c))
    expect((await app.request('/p/1')).headers.get('x-cache')).toBe('MISS')
    const hit = await app.request('/p/1')
    expect(hit.headers.get('x-cache')).toBe('HIT')
    expect(await hit.json()).toEqual({ id: '1', calls: 1 })
    expect(products.calls).toBe(1)
  })

  it('the wrapper answers an L1 hit synchronously (a Response, not a promise); a miss and the decorator form answer promises', async () => {
    const cache = createCache()
    let calls = 0
    const handler = cached({ cache, ttl: '1m' })((c) => c.json({ call: ++calls }))
    const app = new Hono()
    const answers: unknown[] = []
    app.get('/sync', (c) => {
      const answer = handler(c)
      answers.push(answer)
      return answer
    })
    expect((await app.request('/sync')).headers.get('x-cache')).toBe('MISS')
    const hit = await app.request('/sync')
    expect(hit.headers.get('x-cache')).toBe('HIT')
    expect(await hit.json()).toEqual({ call: 1 })
    expect(answers[0]).toBeInstanceOf(Promise)
    expect(answers[1]).toBeInstanceOf(Response)

    class Products {
      @cached({ cache, ttl: '1m' })
      async show(c: import('hono').Context) {
        return c.json({ call: ++calls })
      }
    }
    const products = new Products()
    const decorated: unknown[] = []
    const other = new Hono()
    other.get('/decorated', (c) => {
      const answer = products.show(c)
      decorated.push(answer)
      return answer
    })
    await other.request('/decorated')
    expect((await other.request('/decorated')).headers.get('x-cache')).toBe('HIT')
    expect(decorated.every((answer) => answer instanceof Promise)).toBe(true)
  })

  it("a wrapped handler's HTTPException reaches Hono as thrown: its status, not a 500", async () => {
    const app = new Hono()
    app.get(
      '/missing',
      cached({ cache: createCache(), ttl: '1m' })(() => {
        throw new HTTPException(404, { message: 'no such product' })
      }),
    )
    const response = await app.request('/missing')
    // It was a LoaderError keyed http:GET /missing, which Hono answered as a 500.
    expect(response.status).toBe(404)
    expect(await response.text()).toBe('no such product')
  })

  it('without a cache anywhere: a clear error', async () => {
    const app = new Hono()
    app.get(
      '/x',
      cached()((c) => c.text('x')),
    )
    const response = await app.request('/x')
    expect(response.status).toBe(500)
  })
})
