/**
 * `respondCached` and its synchronous half `answerFromL1`, over plain Fetch requests (the adapters'
 * tests cover them behind Hono, Lambda and the edge wrapper). Injected clock; no sleeping.
 */
import { describe, expect, it } from 'vitest'
import { createCache } from '../../src/cache/create-cache.js'
import { MemoryStore } from '../../src/cache/memory-store.js'
import { type ResolvedResponseCacheOptions, resolveResponseCacheOptions } from '../../src/http/options.js'
import { answerFromL1, respondCached } from '../../src/http/response-cache.js'
import { ManualClock, seededRandom } from '../helpers/clock.js'
import { heldLoader } from '../helpers/held-loader.js'

/** A cache on an injected clock; the response options get that clock too unless `ownClock` is false. */
function setup({
  grace,
  ttl = '1m',
  ownClock = true,
  maxStaleness = Number.POSITIVE_INFINITY,
}: {
  grace?: '1m'
  ttl?: '1m' | '10s'
  ownClock?: boolean
  maxStaleness?: number | '1s'
} = {}) {
  const clock = new ManualClock()
  const store = new MemoryStore(clock.now)
  const cache = createCache({
    redis: store,
    clock,
    random: seededRandom(),
    jitter: 0,
    maxStaleness,
    ...(grace ? { grace } : {}),
  })
  const options = resolveResponseCacheOptions({ cache, ttl, ...(ownClock ? { clock } : {}) })
  let produced = 0
  const produce = () => {
    produced++
    return Response.json({ n: produced })
  }
  return { clock, store, cache, options, produce, produced: () => produced }
}

const get = (path: string, headers: Record<string, string> = {}) =>
  new Request(`http://example.test${path}`, { headers })

describe('answerFromL1', () => {
  it('answers a response in L1 synchronously, as a HIT counted by the cache; undefined before it is there', async () => {
    const { cache, options, produce, produced } = setup()
    expect(answerFromL1(get('/a'), options)).toBeUndefined()
    expect(cache.stats().hits.l1).toBe(0)
    const miss = await respondCached(get('/a'), produce, options)
    expect(miss.headers.get('x-cache')).toBe('MISS')
    await cache.settled()
    const hit = answerFromL1(get('/a'), options)
    expect(hit).toBeInstanceOf(Response)
    expect(hit!.headers.get('x-cache')).toBe('HIT')
    expect(hit!.headers.get('server-timing')).toMatch(/^tiercache;desc="HIT l1";dur=\d+(\.\d{1,2})?$/)
    expect(hit!.headers.get('etag')).toBe(miss.headers.get('etag'))
    expect(await hit!.json()).toEqual({ n: 1 })
    expect(cache.stats().hits.l1).toBe(1)
    expect(produced()).toBe(1)
    // Stored under an `http:` key in the cache it was given (not a namespace view).
    expect(cache.peek('http:GET /a')).toMatchObject({ status: 200, encoding: 'utf8' })
  })

  it('hits on one entry share headers that no answer can change for the next', async () => {
    const { cache, options, produce } = setup()
    await respondCached(get('/a'), produce, options)
    await cache.settled()
    const first = answerFromL1(get('/a'), options)!
    first.headers.set('x-cache', 'CHANGED')
    first.headers.delete('etag')
    const second = answerFromL1(get('/a'), options)!
    expect(second.headers.get('x-cache')).toBe('HIT')
    expect(second.headers.get('etag')).toMatch(/^"[\w-]{27}"$/)
    expect(second.headers.get('content-type')).toMatch(/application\/json/)
  })

  it('remembers the keys of at most 10,000 URLs, and a remembered key is the key', async () => {
    const { cache, options, produce } = setup()
    await respondCached(get('/a?y=2&x=1'), produce, options)
    await cache.settled()
    // The same URL twice (the second key comes from the memo), and the same query in another order.
    expect(answerFromL1(get('/a?y=2&x=1'), options)?.headers.get('x-cache')).toBe('HIT')
    expect(answerFromL1(get('/a?y=2&x=1'), options)?.headers.get('x-cache')).toBe('HIT')
    expect(answerFromL1(get('/a?x=1&y=2'), options)?.headers.get('x-cache')).toBe('HIT')
    expect(options.keysByUrl.get('http://example.test/a?y=2&x=1')).toBe('http:GET /a?x=1&y=2')
    const head = answerFromL1(new Request('http://example.test/a?x=1&y=2', { method: 'HEAD' }), options)
    expect(head?.headers.get('x-cache')).toBe('HIT') // HEAD is answered from GET's entry
    for (let i = 0; i < 10_050; i++) answerFromL1(get(`/other/${i}`), options)
    expect(options.keysByUrl.size).toBeLessThanOrEqual(10_000)
    expect(answerFromL1(get('/a?y=2&x=1'), options)?.headers.get('x-cache')).toBe('HIT')
  })

  it('leaves no-cache, no-store, other methods and hashed keys to respondCached', async () => {
    const { cache, options, produce } = setup()
    await respondCached(get('/a'), produce, options)
    await cache.settled()
    expect(answerFromL1(get('/a', { 'cache-control': 'no-cache' }), options)).toBeUndefined()
    expect(answerFromL1(get('/a', { 'cache-control': 'max-age=0, no-store' }), options)).toBeUndefined()
    expect(answerFromL1(new Request('http://example.test/a', { method: 'POST' }), options)).toBeUndefined()
    const long = `/${'x'.repeat(600)}`
    await respondCached(get(long), produce, options)
    await cache.settled()
    expect(answerFromL1(get(long), options)).toBeUndefined()
    expect((await respondCached(get(long), produce, options)).headers.get('x-cache')).toBe('HIT')
    expect(cache.stats().hits.l1).toBe(1)
  })

  it('If-None-Match on a hit: 304 with the ETag and no body', async () => {
    const { cache, options, produce } = setup()
    const first = await respondCached(get('/a'), produce, options)
    await cache.settled()
    const etag = first.headers.get('etag')!
    expect(etag).toMatch(/^"[\w-]{27}"$/)
    const again = answerFromL1(get('/a', { 'if-none-match': `W/${etag}` }), options)!
    expect(again.status).toBe(304)
    expect(again.headers.get('etag')).toBe(etag)
    expect(again.headers.get('content-type')).toBeNull()
    expect(await again.text()).toBe('')
  })

  it('reads headers through the reader it is given (a server with plain header objects)', async () => {
    const { cache, options, produce } = setup()
    await respondCached(get('/a'), produce, options)
    await cache.settled()
    const asked: string[] = []
    const reader = (name: string) => {
      asked.push(name)
      return name === 'cache-control' ? 'no-cache' : null
    }
    expect(answerFromL1(get('/a'), options, reader)).toBeUndefined()
    expect(asked).toEqual(['authorization', 'cache-control'])
  })
})

describe('respondCached', () => {
  it("follows the cache's clock when given none of its own: STALE inside grace, as the cache sees it", async () => {
    // No clock for the response options: they used to read Date, so an entry stale by the
    // cache's clock read as a HIT.
    const { clock, cache, options, produce } = setup({ grace: '1m', ttl: '10s', ownClock: false })
    expect((await respondCached(get('/s'), produce, options)).headers.get('x-cache')).toBe('MISS')
    await cache.settled()
    clock.advance(12_000) // past its 10 s, inside the grace
    const stale = await respondCached(get('/s'), produce, options)
    expect(stale.headers.get('x-cache')).toBe('STALE')
    expect(await stale.json()).toEqual({ n: 1 })
  })
})

describe('Date: when the response was made, on every answer from its entry', () => {
  it('a HIT says when the response was stored, not when it is answered, from L1, tier 2 and stale; a 304 too', async () => {
    // Without it the server dates each answer now, and a CDN or browser behind the cache counts
    // the response's max-age from then: an answer kept 29 s of 30 gets a whole max-age more.
    const { clock, cache, options, produce } = setup({ grace: '1m', ttl: '10s' })
    const made = new Date(clock.now()).toUTCString()
    const miss = await respondCached(get('/a'), produce, options)
    expect([miss.headers.get('x-cache'), miss.headers.get('date')]).toEqual(['MISS', made])
    await cache.settled()
    clock.advance(3_000)
    expect(answerFromL1(get('/a'), options)!.headers.get('date')).toBe(made)
    const notModified = answerFromL1(get('/a', { 'if-none-match': miss.headers.get('etag')! }), options)!
    expect([notModified.status, notModified.headers.get('date')]).toEqual([304, made])
    clock.advance(5_000) // past L1's 5 s: from tier 2
    const l2 = await respondCached(get('/a'), produce, options)
    expect(l2.headers.get('server-timing')).toContain('HIT l2')
    expect(l2.headers.get('date')).toBe(made)
    clock.advance(4_000) // past its 10 s, inside the grace
    const stale = await respondCached(get('/a'), produce, options)
    expect([stale.headers.get('x-cache'), stale.headers.get('date')]).toEqual(['STALE', made])
  })

  it("keeps the handler's own Date (a response fetched from further away), once", async () => {
    const { clock, cache, options } = setup()
    const upstream = 'Wed, 13 Jan 2027 08:00:00 GMT'
    const through = () =>
      new Response('{}', { headers: { 'content-type': 'application/json', date: upstream } })
    expect((await respondCached(get('/up'), through, options)).headers.get('date')).toBe(upstream)
    await cache.settled()
    clock.advance(1_000)
    expect(answerFromL1(get('/up'), options)!.headers.get('date')).toBe(upstream)
  })
})

describe('Server-Timing names the tier that answered, as the stats count it', () => {
  it.each(['the cache', 'a namespace view of it'])(
    'an L1 entry served after a coherence sync is an l1 hit, in the header and in the stats; one read from tier 2 is l2 (%s)',
    async (given) => {
      // With a shared tier 2, L1 answers at once only while its last sync is recent (maxStaleness):
      // after a quiet spell the first request syncs, then answers from L1. That answer said
      // "HIT l2" (anything not produced did) while the stats counted an L1 hit.
      const { clock, cache: root, produce } = setup({ maxStaleness: '1s' })
      const cache = given === 'the cache' ? root : root.namespace('pages')
      const options = resolveResponseCacheOptions({ cache, ttl: '1m', clock })
      await respondCached(get('/a'), produce, options)
      await cache.settled()
      clock.advance(2_000) // past maxStaleness, inside L1's 5 s
      const afterSync = await respondCached(get('/a'), produce, options)
      expect(afterSync.headers.get('server-timing')).toMatch(/^tiercache;desc="HIT l1";/)
      expect(cache.stats().hits).toEqual({ l1: 1, l2: 0 })
      expect(answerFromL1(get('/a'), options)!.headers.get('server-timing')).toMatch(/desc="HIT l1"/)
      clock.advance(5_000) // past L1's 5 s: read from tier 2
      const fromTierTwo = await respondCached(get('/a'), produce, options)
      expect(fromTierTwo.headers.get('server-timing')).toMatch(/^tiercache;desc="HIT l2";/)
      expect(cache.stats().hits).toEqual({ l1: 2, l2: 1 })
    },
  )
})

describe('respondCached and revalidation (request Cache-Control: no-cache)', () => {
  it('concurrent revalidations of one URL share one run of the handler: a header cannot make every request run it', async () => {
    const { options } = setup()
    const { loader: produce, started, release, calls } = heldLoader(() => Response.json({ body: 'fresh' }))
    const answers = Array.from({ length: 100 }, () =>
      respondCached(get('/hot', { 'cache-control': 'no-cache' }), produce, options),
    )
    await started
    await new Promise((r) => setImmediate(r)) // the other 99 have reached the cache (in memory: microtasks)
    release()
    const responses = await Promise.all(answers)
    expect(calls()).toBe(1)
    for (const response of responses) expect(await response.json()).toEqual({ body: 'fresh' })
    expect(responses.filter((r) => r.headers.get('x-cache') === 'MISS')).toHaveLength(1)
  })

  it('a tag invalidated while a revalidation runs wins: the response it built from the old data is not served after', async () => {
    const clock = new ManualClock()
    const store = new MemoryStore(clock.now)
    const cache = createCache({ redis: store, clock, random: seededRandom(), jitter: 0 })
    const options = resolveResponseCacheOptions({ cache, ttl: '1m', tags: ['products'] })
    let price = '10'
    const first = await respondCached(get('/price'), () => Response.json({ price }), options)
    expect(await first.json()).toEqual({ price: '10' })
    const { loader: produce, started, release } = heldLoader(() => Response.json({ body: price }))
    const revalidating = respondCached(get('/price', { 'cache-control': 'no-cache' }), produce, options)
    await started // the handler has read the old price
    price = '12'
    await cache.invalidateTags('products')
    release()
    expect(await (await revalidating).json()).toEqual({ body: '10' }) // its own read began before
    await cache.settled()
    const after = await respondCached(get('/price'), () => Response.json({ price }), options)
    expect(after.headers.get('x-cache')).toBe('MISS')
    expect(await after.json()).toEqual({ price: '12' })
  })

  it('a write of the key while a revalidation runs wins (its store is a fenced fill, not a set)', async () => {
    const { cache, options } = setup()
    let price = '10'
    await respondCached(get('/item'), () => Response.json({ price }), options)
    await cache.settled()
    const { loader: produce, started, release } = heldLoader(() => Response.json({ body: price }))
    const revalidating = respondCached(get('/item', { 'cache-control': 'no-cache' }), produce, options)
    await started // the handler has read the old price
    await cache.write('http:GET /item', () => {
      price = '12'
    })
    release()
    await revalidating
    await cache.settled()
    expect(cache.stats().fillsRefused).toBe(1)
    const after = await respondCached(get('/item'), () => Response.json({ price }), options)
    expect(await after.json()).toEqual({ price: '12' })
  })
})

describe('respondCached and streamed bodies', () => {
  /** A body that sends one event and then stays open, as an event stream does. */
  const endless = () =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('data: first\n\n'))
      },
    })

  it('an event stream goes out at once, as it comes, and is not stored (read to its end, it reached nobody)', async () => {
    const { cache, options } = setup()
    let produced = 0
    const produce = () => {
      produced++
      return new Response(endless(), { headers: { 'content-type': 'text/event-stream; charset=utf-8' } })
    }
    const answered = await Promise.race([
      respondCached(get('/events'), produce, options),
      new Promise<'held'>((resolve) => setTimeout(() => resolve('held'), 1_000)),
    ])
    expect(answered).toBeInstanceOf(Response)
    const response = answered as Response
    expect(response.headers.get('x-cache')).toBe('BYPASS')
    const reader = response.body!.getReader()
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: first\n\n')
    await reader.cancel()
    await cache.settled()
    expect(answerFromL1(get('/events'), options)).toBeUndefined()
    await respondCached(get('/events'), produce, options).then((r) => r.body?.cancel())
    expect(produced).toBe(2)
  })
})

describe('respondCached and the response’s own Vary', () => {
  const varied = (vary: string, language: string) =>
    new Response(`hello in ${language}`, { headers: { 'content-type': 'text/plain', vary } })
  /** Answers a request for `path` in a language, by a handler that answers with `vary`. */
  const answering =
    (path: string, vary: string, options: ResolvedResponseCacheOptions) => (language: string) =>
      respondCached(get(path, { 'accept-language': language }), () => varied(vary, language), options)

  it('a response that varies on a header the key does not hold is not stored: it would be served to every language', async () => {
    const { options } = setup()
    const answerFor = answering('/greeting', 'Accept-Language', options)
    const french = await answerFor('fr')
    expect(french.headers.get('x-cache')).toBe('BYPASS')
    const english = await answerFor('en')
    expect(await english.text()).toBe('hello in en') // it used to be answered "hello in fr", a HIT
    expect(english.headers.get('x-cache')).toBe('BYPASS')
  })

  it('Vary: * is never stored; a Vary the key holds (any case, any spacing) is', async () => {
    const { options } = setup()
    const star = await respondCached(get('/star'), () => varied('*', 'en'), options)
    expect(star.headers.get('x-cache')).toBe('BYPASS')
    expect((await respondCached(get('/star'), () => varied('*', 'en'), options)).headers.get('x-cache')).toBe(
      'BYPASS',
    )

    const { cache } = setup()
    const keyed = resolveResponseCacheOptions({
      cache,
      ttl: '1m',
      vary: ['accept-language', 'Accept-Encoding'],
    })
    const answerFor = answering('/keyed', 'accept-encoding ,  Accept-Language', keyed)
    expect((await answerFor('fr')).headers.get('x-cache')).toBe('MISS')
    await cache.settled()
    const again = await answerFor('fr')
    expect(again.headers.get('x-cache')).toBe('HIT')
    expect(await again.text()).toBe('hello in fr')
    expect(await (await answerFor('en')).text()).toBe('hello in en')
  })

  it('with a key function of its own, the caller answers for what the key holds: a Vary does not stop the store', async () => {
    const { cache } = setup()
    const custom = resolveResponseCacheOptions({
      cache,
      ttl: '1m',
      key: (request) => `${new URL(request.url).pathname} ${request.headers.get('accept-language')}`,
    })
    const answerFor = answering('/custom', 'Accept-Language', custom)
    expect((await answerFor('fr')).headers.get('x-cache')).toBe('MISS')
    await cache.settled()
    expect((await answerFor('fr')).headers.get('x-cache')).toBe('HIT')
  })
})

describe('respondCached and requests with credentials (Authorization)', () => {
  /** What `/me` answers: the token's owner, or "anonymous"; with a Cache-Control when given one. */
  const me = (request: Request, cacheControl?: string): Response =>
    Response.json(
      { user: request.headers.get('authorization')?.slice('Bearer '.length) ?? 'anonymous' },
      cacheControl ? { headers: { 'cache-control': cacheControl } } : {},
    )
  const as = (token?: string) => get('/me', token ? { authorization: `Bearer ${token}` } : {})
  /** Asks `/me` with a token (or none): how it was answered, and for whom. */
  const ask = async (options: ResolvedResponseCacheOptions, token?: string, cacheControl?: string) => {
    const request = as(token)
    const response = await respondCached(request, () => me(request, cacheControl), options)
    await options.cache.settled()
    return {
      status: response.headers.get('x-cache'),
      user: ((await response.json()) as { user: string }).user,
    }
  }

  it('a response stored for anyone does not answer a request with credentials, from L1 or from tier 2', async () => {
    const { clock, store, options } = setup()
    expect(await ask(options)).toEqual({ status: 'MISS', user: 'anonymous' })
    expect(await ask(options)).toEqual({ status: 'HIT', user: 'anonymous' })
    // It used to be a HIT: ada's token was answered with what was stored for anyone.
    expect(answerFromL1(as('ada'), options)).toBeUndefined()
    expect(await ask(options, 'ada')).toEqual({ status: 'BYPASS', user: 'ada' })
    // Another instance sharing tier 2: the entry comes from there, and is not served to ada either.
    const other = resolveResponseCacheOptions({
      cache: createCache({ redis: store, clock, jitter: 0, maxStaleness: Number.POSITIVE_INFINITY }),
      ttl: '1m',
    })
    expect(await ask(other, 'ada')).toEqual({ status: 'BYPASS', user: 'ada' })
    expect(await ask(other)).toEqual({ status: 'HIT', user: 'anonymous' })
  })

  it('the answer to a request with credentials is not stored: the next caller gets its own', async () => {
    const { options } = setup()
    expect(await ask(options, 'ada')).toEqual({ status: 'BYPASS', user: 'ada' })
    // It used to be stored, and served to everyone after ada (a HIT for grace).
    expect(await ask(options, 'grace')).toEqual({ status: 'BYPASS', user: 'grace' })
    expect(await ask(options)).toEqual({ status: 'MISS', user: 'anonymous' })
  })

  it('even a response marked public is left to the handler; a key function without the token shares it', async () => {
    const { cache, options } = setup()
    // RFC 9111 allows sharing these; tiercache does not guess, the caller's key function decides.
    for (const cacheControl of ['public, max-age=60', 's-maxage=60', 'max-age=60, must-revalidate']) {
      expect(await ask(options, 'ada', cacheControl), cacheControl).toEqual({ status: 'BYPASS', user: 'ada' })
      expect(await ask(options, 'grace', cacheControl), cacheControl).toEqual({
        status: 'BYPASS',
        user: 'grace',
      })
    }
    const sameForAll = resolveResponseCacheOptions({
      cache,
      ttl: '1m',
      key: (request) => new URL(request.url).pathname,
    })
    expect(await ask(sameForAll, 'ada')).toEqual({ status: 'MISS', user: 'ada' })
    expect(await ask(sameForAll, 'grace')).toEqual({ status: 'HIT', user: 'ada' })
    expect(answerFromL1(as('grace'), sameForAll)?.headers.get('x-cache')).toBe('HIT')
  })

  it("with vary: ['authorization'], or a key function, the key holds the credentials: each caller has an entry", async () => {
    const { cache } = setup()
    const byToken = resolveResponseCacheOptions({ cache, ttl: '1m', vary: ['Authorization'] })
    expect(await ask(byToken, 'ada')).toEqual({ status: 'MISS', user: 'ada' })
    expect(await ask(byToken, 'ada')).toEqual({ status: 'HIT', user: 'ada' })
    expect(await ask(byToken, 'grace')).toEqual({ status: 'MISS', user: 'grace' })
    const custom = resolveResponseCacheOptions({
      cache,
      ttl: '1m',
      key: (request) => `me ${request.headers.get('authorization')}`,
    })
    expect(await ask(custom, 'ada')).toEqual({ status: 'MISS', user: 'ada' })
    expect(await ask(custom, 'ada')).toEqual({ status: 'HIT', user: 'ada' })
  })
})
