/**
 * tiercache/edge outside wrangler (the real `wrangler dev` run is in test/examples/worker.test.ts):
 * `cacheFetch` for fetch-style runtimes with `waitUntil` passed in, `withCache` for Workers with
 * the cache made from env, and `fromEnv`'s errors.
 */

import { createCache, InvalidOptionError, MemoryStore } from 'tiercache'
import { cacheFetch, fromEnv, withCache } from 'tiercache/edge'
import { describe, expect, it } from 'vitest'
import { ManualClock } from '../helpers/clock.js'

describe('fromEnv', () => {
  it('reads the Upstash REST credentials from a Worker env', () => {
    expect(
      fromEnv({ UPSTASH_REDIS_REST_URL: 'https://x.upstash.io', UPSTASH_REDIS_REST_TOKEN: 't' }),
    ).toEqual({
      url: 'https://x.upstash.io',
      token: 't',
    })
  })

  it('names what is missing, with the wrangler command that sets it', () => {
    expect(() => fromEnv({})).toThrowError(InvalidOptionError)
    expect(() => fromEnv({})).toThrowError(
      /UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN are not set: `wrangler secret put UPSTASH_REDIS_REST_URL`, `wrangler secret put UPSTASH_REDIS_REST_TOKEN`/,
    )
    expect(() => fromEnv({ UPSTASH_REDIS_REST_URL: 'https://x' })).toThrowError(
      /UPSTASH_REDIS_REST_TOKEN is not set: `wrangler secret put UPSTASH_REDIS_REST_TOKEN`/,
    )
  })
})

describe('cacheFetch (Vercel Edge and other fetch-style runtimes)', () => {
  it('MISS then HIT; background work handed to the waitUntil given with the request', async () => {
    let calls = 0
    const handler = cacheFetch(
      async (request, { cache }) =>
        Response.json(
          await cache.getOrLoad(new URL(request.url).pathname, async (key) => ({ key, call: ++calls })),
        ),
      { cache: { ttl: '1m', redis: new MemoryStore() } },
    )
    const waited: Array<Promise<unknown>> = []
    const ctx = { waitUntil: (p: Promise<unknown>) => void waited.push(p) }
    const first = await handler(new Request('https://edge.example/p/1'), ctx)
    expect(first.headers.get('x-cache')).toBe('MISS')
    const second = await handler(new Request('https://edge.example/p/1'), ctx)
    expect(second.headers.get('x-cache')).toBe('HIT')
    expect(await second.json()).toEqual({ key: '/p/1', call: 1 })
    expect(waited.length).toBe(2)
    await Promise.all(waited)
    expect(
      (await handler(new Request('https://edge.example/p/1', { method: 'POST' }))).headers.get('x-cache'),
    ).toBe('BYPASS')
  })

  it('a stale response is refreshed in the background through the same handler when waitUntil is given', async () => {
    const clock = new ManualClock()
    let version = 0
    const handler = cacheFetch(async () => new Response(`v${++version}`), {
      cache: createCache({ clock, jitter: 0, grace: '1m' }),
      responses: { ttl: '10s', clock },
    })
    const waited: Array<Promise<unknown>> = []
    const ctx = { waitUntil: (p: Promise<unknown>) => void waited.push(p) }
    expect(await (await handler(new Request('https://e/x'), ctx)).text()).toBe('v1')
    clock.advance(11_000)
    const stale = await handler(new Request('https://e/x'), ctx)
    expect(stale.headers.get('x-cache')).toBe('STALE')
    expect(await stale.text()).toBe('v1')
    await Promise.all(waited)
    const fresh = await handler(new Request('https://e/x'), ctx)
    expect(fresh.headers.get('x-cache')).toBe('HIT')
    expect(await fresh.text()).toBe('v2')
  })
})

describe('withCache (Workers)', () => {
  it('creates the cache once per isolate from the env, hands it to the handler, and uses ctx.waitUntil', async () => {
    const store = new MemoryStore()
    const made: unknown[] = []
    const worker = withCache<{ TIER_TWO: MemoryStore }>(
      {
        async fetch(request, _env, { cache }) {
          return Response.json(await cache.getOrLoad(new URL(request.url).pathname, async (key) => ({ key })))
        },
      },
      {
        cache: (env) => {
          made.push(env)
          return createCache({ redis: env.TIER_TWO })
        },
      },
    )
    const env = { TIER_TWO: store }
    const waited: Array<Promise<unknown>> = []
    const ctx = { waitUntil: (p: Promise<unknown>) => void waited.push(p) }
    expect((await worker.fetch(new Request('https://w/a'), env, ctx)).headers.get('x-cache')).toBe('MISS')
    expect((await worker.fetch(new Request('https://w/a'), env, ctx)).headers.get('x-cache')).toBe('HIT')
    expect(made).toHaveLength(1)
    expect(waited).toHaveLength(2)
    await Promise.all(waited)
  })

  it('without credentials in env, the first request fails with the missing names', async () => {
    const worker = withCache({ fetch: async () => new Response('x') })
    await expect(worker.fetch(new Request('https://w/'), {}, { waitUntil: () => {} })).rejects.toThrowError(
      /wrangler secret put UPSTASH_REDIS_REST_URL/,
    )
  })
})

describe('options', () => {
  it('unknown names are refused at setup, by cacheFetch and by withCache', () => {
    const handler = async () => new Response('x')
    expect(() => cacheFetch(handler, { cache: createCache(), respones: false } as never)).toThrowError(
      /^Invalid option respones: is not an option \(did you mean responses\?\); known: cache, responses$/,
    )
    expect(() =>
      cacheFetch(handler, { cache: { redis: new MemoryStore() }, responses: { Ttl: '1s' } } as never),
    ).toThrowError(/^Invalid option Ttl: is not an option \(did you mean ttl\?\)/)
    expect(() => withCache({ fetch: handler }, { cach: {} } as never)).toThrowError(
      /^Invalid option cach: is not an option \(did you mean cache\?\); known: cache, responses$/,
    )
    // Workers: checked when the module loads, not on the first request (which has the env).
    expect(() => withCache({ fetch: handler }, { cache: { ttl: 'soon' as '1s' } })).toThrowError(
      /^Invalid option ttl: must be a number of milliseconds/,
    )
    expect(() => withCache({ fetch: handler }, { responses: { maxBodyBytes: -1 } })).toThrowError(
      /^Invalid option maxBodyBytes/,
    )
    expect(() =>
      withCache({ fetch: handler }, { cache: { l1: { max: 10 } }, responses: { ttl: '1m' } }),
    ).not.toThrow()
  })

  it('a missing handler or cache is named at setup (they were a TypeError, or a 500 on every request)', () => {
    const handler = async () => new Response('x')
    for (const bad of [{}, { cache: null }]) {
      expect(() => cacheFetch(handler, bad as never)).toThrowError(
        /^Invalid option cache: must be a cache or its options \(\{ redis: \{ url, token \} \}\)$/,
      )
    }
    expect(() => cacheFetch(42 as never, { cache: createCache() })).toThrowError(
      /^Invalid option handler: must be a function, got 42$/,
    )
    for (const worker of [undefined, {}, { fetch: 'handler' }]) {
      expect(() => withCache(worker as never)).toThrowError(/^Invalid option fetch: must be a function, got/)
    }
    // The responses' options are checked at setup when the cache comes from a function of env too.
    expect(() =>
      withCache({ fetch: handler }, { cache: () => createCache(), responses: { ttll: '1s' } as never }),
    ).toThrowError(/^Invalid option ttll: is not an option \(did you mean ttl\?\)/)
  })
})
