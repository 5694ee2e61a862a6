/**
 * examples/vercel-edge: the middleware as Vercel would call it (a Fetch `Request` and a context
 * with `waitUntil`), its tier 2 the proxy on the suite's cluster (through the env variables the
 * example reads), its origin a real HTTP server on loopback: MISS, then HIT (from tier 2, then
 * from L1); a second instance (another isolate: a fresh module, an empty L1) answers from tier 2
 * without asking the origin.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { startTestProxy, TOKENS } from '../helpers/proxy.js'

type Middleware = (
  request: Request,
  context: { waitUntil(promise: Promise<unknown>): void },
) => Promise<Response>

describe('examples/vercel-edge', () => {
  let proxy: RunningProxy
  let origin: Server
  let base: string
  const originCalls: string[] = []

  beforeAll(async () => {
    proxy = await startTestProxy({ redis: inject('clusterUrl') })
    origin = createServer((req, res) => {
      originCalls.push(req.url ?? '')
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ path: req.url, call: originCalls.length }))
    })
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`
    vi.stubEnv('UPSTASH_REDIS_REST_URL', proxy.url)
    vi.stubEnv('UPSTASH_REDIS_REST_TOKEN', TOKENS.standard)
  })
  afterAll(async () => {
    vi.unstubAllEnvs()
    await new Promise((resolve) => origin.close(resolve))
    await proxy.close('1s')
  })

  /** A fresh copy of the example, as a new isolate would load it (its own L1). */
  async function loadMiddleware(): Promise<Middleware> {
    vi.resetModules()
    const module = await import('../../examples/vercel-edge/middleware.js')
    expect(module.config.matcher).toBe('/api/products/:path*')
    return module.default as Middleware
  }

  it('MISS, then HIT; another instance answers from tier 2, the origin asked once', async () => {
    const path = `/api/products/${Date.now()}`
    const waited: Array<Promise<unknown>> = []
    const context = { waitUntil: (promise: Promise<unknown>) => void waited.push(promise) }

    const first = await loadMiddleware()
    const miss = await first(new Request(`${base}${path}`), context)
    expect(miss.status).toBe(200)
    expect(miss.headers.get('x-cache')).toBe('MISS')
    expect(await miss.json()).toEqual({ path, call: 1 })
    // A new instance keeps nothing it read before its first cursor (the stream read that went
    // out with the MISS's read): the next answer comes from tier 2, and is kept; then L1.
    const fromTierTwoFirst = await first(new Request(`${base}${path}`), context)
    expect(fromTierTwoFirst.headers.get('x-cache')).toBe('HIT')
    expect(fromTierTwoFirst.headers.get('server-timing')).toMatch(/desc="HIT l2"/)
    expect(await fromTierTwoFirst.json()).toEqual({ path, call: 1 })
    const hit = await first(new Request(`${base}${path}`), context)
    expect(hit.headers.get('x-cache')).toBe('HIT')
    expect(hit.headers.get('server-timing')).toMatch(/desc="HIT l1"/)
    expect(await hit.json()).toEqual({ path, call: 1 })
    // The tier-2 write went to waitUntil, as on Vercel.
    expect(waited.length).toBeGreaterThan(0)
    await Promise.all(waited)

    const second = await loadMiddleware()
    expect(second).not.toBe(first)
    const fromTierTwo = await second(new Request(`${base}${path}`), context)
    expect(fromTierTwo.headers.get('x-cache')).toBe('HIT')
    expect(fromTierTwo.headers.get('server-timing')).toMatch(/desc="HIT l2"/)
    expect(await fromTierTwo.json()).toEqual({ path, call: 1 })
    expect(originCalls).toEqual([path])
  })
})
