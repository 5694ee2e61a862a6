/**
 * tiercache/lambda: the wrapped handler invoked with real event shapes of each HTTP source
 * (fixtures in test/adapters/fixtures/lambda), against the proxy on the real cluster.
 */
import { readFileSync } from 'node:fs'
import type { Context } from 'aws-lambda'
import { Hono } from 'hono'
import { handle } from 'hono/aws-lambda'
import { type Cache, createCache, UpstashStore } from 'tiercache'
import { cacheMiddleware } from 'tiercache/hono'
import { withCache } from 'tiercache/lambda'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { startTestProxy, TOKENS } from '../helpers/proxy.js'

const fixture = <T = Record<string, unknown>>(name: string): T =>
  JSON.parse(readFileSync(new URL(`./fixtures/lambda/${name}.json`, import.meta.url), 'utf8'))

/** A Lambda context as the Node runtime builds it. */
function lambdaContext(): Context {
  const deadline = Date.now() + 10_000
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'catalogue',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:catalogue',
    memoryLimitInMB: '512',
    awsRequestId: crypto.randomUUID(),
    logGroupName: '/aws/lambda/catalogue',
    logStreamName: '2026/11/21/[$LATEST]abcdef',
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  }
}

type Result = {
  statusCode: number
  headers?: Record<string, string>
  multiValueHeaders?: Record<string, string[]>
  cookies?: string[]
  body: string
  isBase64Encoded: boolean
  statusDescription?: string
}

const header = (result: Result, name: string) =>
  result.headers?.[name] ?? result.multiValueHeaders?.[name]?.[0]

let proxy: RunningProxy
let store: UpstashStore
beforeAll(async () => {
  proxy = await startTestProxy({ redis: inject('clusterUrl') })
  store = new UpstashStore({ url: proxy.url, token: TOKENS.standard })
})
afterAll(() => proxy.close('1s'))

function freshCache(): Cache {
  return createCache({ redis: store, namespace: `lambda-${crypto.randomUUID()}`, timeouts: { l2: '2s' } })
}

describe('withCache: response caching for each HTTP event source', () => {
  const sources = [
    ['API Gateway REST (v1)', 'api-gateway-rest-v1', { view: 'full', lang: 'en' }],
    ['HTTP API (v2)', 'http-api-v2', { view: 'full', lang: 'en' }],
    ['Function URL', 'function-url', { view: 'full', lang: 'en' }],
    ['ALB', 'alb', { view: 'full', lang: 'en GB' }],
    ['ALB, multi-value headers', 'alb-multi-value', { view: 'full', lang: 'en GB' }],
  ] as const
  for (const [label, name, query] of sources) {
    it(`${label}: MISS then HIT, the event read as a request, the result in the source's shape`, async () => {
      let calls = 0
      const seen: string[] = []
      const handler = withCache<Record<string, unknown>, Result>(
        async (event, { cache, awsRequestId }) => {
          calls++
          seen.push(awsRequestId)
          expect(typeof cache.getOrLoad).toBe('function')
          return {
            statusCode: 200,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ id: 42, call: calls, path: event.path ?? event.rawPath }),
            isBase64Encoded: false,
          }
        },
        { cache: freshCache(), responses: { ttl: '1m', key: (request) => new URL(request.url).search } },
      )
      const first = await handler(fixture(name), lambdaContext())
      expect(first.statusCode).toBe(200)
      expect(header(first, 'x-cache')).toBe('MISS')
      const second = await handler(fixture(name), lambdaContext())
      expect(header(second, 'x-cache')).toBe('HIT')
      expect(JSON.parse(second.body)).toEqual({ id: 42, call: 1, path: '/products/42' })
      expect(second.isBase64Encoded).toBe(false)
      expect(calls).toBe(1)
      expect(seen).toHaveLength(1)
      // The key was the query string as a request URL: the event's parameters, decoded.
      const search = new URLSearchParams(Object.entries(query))
      search.sort()
      const keyed = withCache(async () => ({ statusCode: 200, body: 'x' }), {
        cache: freshCache(),
        responses: {
          key: (request) => {
            const params = new URL(request.url).searchParams
            params.sort()
            expect(params.toString()).toBe(search.toString())
            return 'k'
          },
        },
      })
      await keyed(fixture(name), lambdaContext())
      if (name.startsWith('alb')) expect(first.statusDescription).toBe('200 OK')
      if (name === 'alb-multi-value')
        expect(first.multiValueHeaders?.['content-type']).toEqual(['application/json'])
    })
  }

  it('payload v2: a bare value is sent as JSON; a Set-Cookie response is never cached and keeps its cookies', async () => {
    let calls = 0
    const bare = withCache<unknown, unknown>(async () => ({ products: ['lamp'], call: ++calls }), {
      cache: freshCache(),
    })
    const r1 = (await bare(fixture('http-api-v2'), lambdaContext())) as unknown as Result
    expect(JSON.parse(r1.body)).toEqual({ products: ['lamp'], call: 1 })
    expect(header(r1, 'content-type')).toBe('application/json')
    expect(
      JSON.parse(((await bare(fixture('http-api-v2'), lambdaContext())) as unknown as Result).body).call,
    ).toBe(1)
    const withCookie = withCache(
      async () => ({ statusCode: 200, cookies: ['session=abc; HttpOnly'], body: `call ${++calls}` }),
      { cache: freshCache() },
    )
    const c1 = (await withCookie(fixture('http-api-v2'), lambdaContext())) as Result
    const c2 = (await withCookie(fixture('http-api-v2'), lambdaContext())) as Result
    expect(c1.cookies).toEqual(['session=abc; HttpOnly'])
    expect(header(c2, 'x-cache')).toBe('BYPASS')
    expect(c2.body).toBe('call 3')
  })

  it("the handler's own error reaches the caller as thrown; a body that is not a string is refused, not stored", async () => {
    class HttpError extends Error {
      constructor(readonly status: number) {
        super(`status ${status}`)
      }
    }
    const failing = withCache(
      async () => {
        throw new HttpError(404)
      },
      { cache: freshCache() },
    )
    // An app telling its errors apart by class keeps working (it was a LoaderError keyed http:...).
    await expect(failing(fixture('http-api-v2'), lambdaContext())).rejects.toBeInstanceOf(HttpError)
    let calls = 0
    const objectBody = withCache(
      async () => ({ statusCode: 200, body: { call: ++calls } as unknown as string }),
      {
        cache: freshCache(),
      },
    )
    for (const _ of [1, 2])
      await expect(objectBody(fixture('http-api-v2'), lambdaContext())).rejects.toThrowError(
        /^tiercache\/lambda: a result's body must be a string \(JSON.stringify it\), got object$/,
      )
    expect(calls).toBe(2) // nothing was cached
  })

  it('a handler answering a Fetch Response is answered with it (it became the JSON text "{}")', async () => {
    let calls = 0
    const fetchStyle = withCache(
      async () => Response.json({ call: ++calls }, { headers: { 'x-from': 'fetch' } }),
      { cache: freshCache() },
    )
    const first = (await fetchStyle(fixture('http-api-v2'), lambdaContext())) as unknown as Result
    expect(first.statusCode).toBe(200)
    expect(JSON.parse(first.body)).toEqual({ call: 1 })
    expect(header(first, 'x-from')).toBe('fetch')
    const second = (await fetchStyle(fixture('http-api-v2'), lambdaContext())) as unknown as Result
    expect(header(second, 'x-cache')).toBe('HIT')
    expect(JSON.parse(second.body)).toEqual({ call: 1 })
  })

  it('a result with no content type gains none (API Gateway then sends its JSON default), on a MISS and a HIT', async () => {
    for (const name of ['api-gateway-rest-v1', 'http-api-v2', 'alb'] as const) {
      const handler = withCache(async () => ({ statusCode: 200, body: JSON.stringify({ ok: 'é' }) }), {
        cache: freshCache(),
      })
      for (const state of ['MISS', 'HIT']) {
        const result = (await handler(fixture(name), lambdaContext())) as Result
        expect(header(result, 'x-cache'), name).toBe(state)
        // It was text/plain;charset=UTF-8, added by the Response the result was turned into.
        expect(header(result, 'content-type'), name).toBeUndefined()
        expect(result.isBase64Encoded, name).toBe(false)
        expect(JSON.parse(result.body), name).toEqual({ ok: 'é' })
      }
    }
  })

  it('ALB: a malformed escape in the query is kept as sent; the status description names the status', async () => {
    const queries: string[] = []
    const handler = withCache(
      async () => ({ statusCode: 404, headers: { 'content-type': 'text/plain' }, body: 'no such product' }),
      {
        cache: freshCache(),
        responses: {
          key: (request) => {
            queries.push(new URL(request.url).search)
            return 'k'
          },
        },
      },
    )
    const event = { ...fixture('alb'), queryStringParameters: { q: '%zz', lang: 'en%20GB', half: '%E2%82' } }
    // decodeURIComponent threw URIError: the invocation failed on a query anyone can type.
    const result = (await handler(event, lambdaContext())) as unknown as Result
    expect(new URLSearchParams(queries[0]).get('q')).toBe('%zz')
    expect(new URLSearchParams(queries[0]).get('lang')).toBe('en GB')
    expect(new URLSearchParams(queries[0]).get('half')).toBe('%E2%82')
    expect(result.statusCode).toBe(404)
    expect(result.statusDescription).toBe('404 Not Found') // it was "404 OK"
    expect(result.body).toBe('no such product')
  })

  it('one key per path the handler sees: decoded ? # % (HTTP APIs decode the path), a Host header that is not a host', async () => {
    // HTTP APIs hand the path over decoded (`/users/me%3Fadmin=true` arrives as `/users/me?admin=true`;
    // REST APIs, Function URLs and ALB keep it encoded), and ALB passes any Host header on. Pasted
    // into the request's URL, such text was read as URL syntax: two requests the handler tells apart
    // shared a key, and the first one's answer was served for the second.
    const handler = withCache(
      async (event: {
        rawPath?: string
        path?: string
        rawQueryString?: string
        queryStringParameters?: object
      }) => ({
        statusCode: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          path: event.rawPath ?? event.path,
          query: event.rawQueryString ?? event.queryStringParameters ?? null,
        }),
      }),
      { cache: freshCache() },
    )
    const v2 = (rawPath: string, rawQueryString = '') => ({
      ...fixture('http-api-v2'),
      rawPath,
      rawQueryString,
    })
    const pairs: Array<[string, object, object]> = [
      ['a decoded ?', v2('/users/me?admin=true'), v2('/users/me', 'admin=true')],
      ['a decoded #', v2('/orders#', 'page=2'), v2('/orders')],
      ['a decoded %', v2('/files/a%3Fb'), v2('/files/a?b')],
      ['a decoded space and Unicode', v2('/files/a b/é'), v2('/files/a%20b/%C3%A9')],
      [
        'a Host header that is not a host',
        {
          ...fixture('alb'),
          path: '/products',
          headers: { ...fixture<{ headers: object }>('alb').headers, host: 'shop.example/admin' },
        },
        { ...fixture('alb'), path: '/admin/products' },
      ],
    ]
    for (const [label, first, second] of pairs) {
      const one = (await handler(first, lambdaContext())) as unknown as Result
      const other = (await handler(second, lambdaContext())) as unknown as Result
      expect(header(other, 'x-cache'), label).toBe('MISS')
      expect(JSON.parse(other.body), label).not.toEqual(JSON.parse(one.body))
      // Each is still a HIT for itself.
      expect(header((await handler(first, lambdaContext())) as unknown as Result, 'x-cache'), label).toBe(
        'HIT',
      )
    }
    // A dot segment, which a URL resolves away (`/x/../products/42` is `/products/42`): not cached.
    const fn = (rawPath: string) => ({ ...fixture('function-url'), rawPath })
    for (const [label, dotted, plain] of [
      ['..', v2('/x/../products/42'), v2('/products/42')],
      ['%2e%2E, encoded (Function URL)', fn('/x/%2e%2E/products/42'), fn('/products/42')],
      ['.', v2('/./products/7'), v2('/products/7')],
    ] as const) {
      const first = (await handler(dotted, lambdaContext())) as unknown as Result
      expect(header(first, 'x-cache'), label).toBe('BYPASS')
      const other = (await handler(plain, lambdaContext())) as unknown as Result
      expect(header(other, 'x-cache'), label).toBe('MISS')
      expect(JSON.parse(other.body), label).not.toEqual(JSON.parse(first.body))
    }
    // A lone surrogate in a path (valid JSON) is answered, not a failed invocation.
    const odd = (await handler(v2('/files/\ud800'), lambdaContext())) as unknown as Result
    expect(odd.statusCode).toBe(200)
  })

  it('binary bodies travel base64-encoded both ways', async () => {
    const png = new Uint8Array([137, 80, 78, 71, 0, 255])
    const handler = withCache(
      async () => ({
        statusCode: 200,
        headers: { 'content-type': 'image/png' },
        body: btoa(String.fromCharCode(...png)),
        isBase64Encoded: true,
      }),
      { cache: freshCache() },
    )
    await handler(fixture('api-gateway-rest-v1'), lambdaContext())
    const hit = (await handler(fixture('api-gateway-rest-v1'), lambdaContext())) as Result
    expect(header(hit, 'x-cache')).toBe('HIT')
    expect(hit.isBase64Encoded).toBe(true)
    expect([...atob(hit.body)].map((ch) => ch.charCodeAt(0))).toEqual([...png])
  })
})

describe('withCache: the rest', () => {
  it('a non-HTTP event (SQS) just gets the cache; background work is done before the handler returns', async () => {
    const namespace = `lambda-${crypto.randomUUID()}`
    const cache = createCache({ redis: store, namespace, timeouts: { l2: '2s' } })
    const handler = withCache(
      async (event: { Records: Array<{ body: string }> }, { cache }) => {
        const { productId } = JSON.parse(event.Records[0]!.body)
        return cache.getOrLoad(`product:${productId}`, async () => ({ productId, name: 'lamp' }))
      },
      { cache },
    )
    expect(await handler(fixture('sqs'), lambdaContext())).toEqual({ productId: 42, name: 'lamp' })
    // No waiting here: the fill reached tier 2 before the handler returned (Lambda freezes after it).
    const [entry] = await store.getMany([`${namespace}:product:42`])
    expect(entry).toContain('"name":"lamp"')
    expect(cache.stats().loads).toBe(1)
  })

  it('a Hono app through hono/aws-lambda, with the Hono middleware caching its responses', async () => {
    const cache = freshCache()
    let calls = 0
    const app = new Hono()
    app.use('*', cacheMiddleware({ cache, ttl: '1m' }))
    app.get('/products/:id', (c) => c.json({ id: c.req.param('id'), call: ++calls }))
    const handler = withCache(handle(app) as (event: unknown) => Promise<Result>, { cache, responses: false })
    const first = (await handler(fixture('http-api-v2'), lambdaContext())) as Result
    expect(header(first, 'x-cache')).toBe('MISS')
    const second = (await handler(fixture('http-api-v2'), lambdaContext())) as Result
    expect(header(second, 'x-cache')).toBe('HIT')
    expect(JSON.parse(second.body)).toEqual({ id: '42', call: 1 })
  })

  it('a bad option throws at setup, naming it', () => {
    expect(() => withCache(async () => ({}), { cache: { ttl: 'soon' as '1s' } })).toThrowError(/ttl/)
    expect(() =>
      withCache(async () => ({}), { cache: createCache(), responses: { maxBodyBytes: -1 } }),
    ).toThrowError(/maxBodyBytes/)
    // Unknown names, at each level: ignored, `response` would leave response caching on by default.
    expect(() =>
      withCache(async () => ({}), { cache: createCache(), response: false } as never),
    ).toThrowError(
      /^Invalid option response: is not an option \(did you mean responses\?\); known: cache, responses$/,
    )
    expect(() => withCache(async () => ({}), { cache: { TTL: '1s' } } as never)).toThrowError(
      /^Invalid option TTL: is not an option \(did you mean ttl\?\)/,
    )
    expect(() =>
      withCache(async () => ({}), { cache: createCache(), responses: { maxBody: 10 } } as never),
    ).toThrowError(/^Invalid option maxBody: is not an option/)
  })
})
