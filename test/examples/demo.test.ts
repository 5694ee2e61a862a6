/**
 * The demo app (the README's main job): its routes with `app.request()` on the in-memory tier 2,
 * the same app on the real cluster through the proxy, and `npm start`'s entry point as a process.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { createCache } from 'tiercache'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createDemoApp } from '../../examples/demo/app.js'
import { createDatabase } from '../../examples/demo/database.js'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { findFreePortRange } from '../helpers/ports.js'
import { startTestProxy, TOKENS } from '../helpers/proxy.js'

async function exercise(app: ReturnType<typeof createDemoApp>, db: ReturnType<typeof createDatabase>) {
  const first = await app.request('/products/42')
  expect(first.status).toBe(200)
  const product = await first.json()
  expect(product).toMatchObject({ id: 42 })
  expect(await (await app.request('/products/42')).json()).toEqual(product)
  expect((await app.request('/products?page=2')).headers.get('x-cache')).toBe('MISS')
  const page = await app.request('/products?page=2')
  expect(page.headers.get('x-cache')).toBe('HIT')
  expect((await page.json()).products).toHaveLength(20)
  const queries = db.stats.queries
  expect((await app.request('/products/999999')).status).toBe(404)
  expect(db.stats.queries).toBe(queries) // the guard answered
  const put = await app.request('/products/42', {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ price: 1234 }),
  })
  expect((await put.json()).price).toBe(1234)
  expect((await (await app.request('/products/42')).json()).price).toBe(1234)
  expect((await app.request('/products?page=3')).headers.get('x-cache')).toBe('MISS')
  expect((await app.request('/products/abc')).status).toBe(400)
  expect((await app.request('/products/42', { method: 'PUT', body: '{"price":"x"}' })).status).toBe(400)
  const stats = await (await app.request('/stats')).json()
  expect(stats.cache.guarded).toBe(1)
  expect(stats.cache.hits.l1 + stats.cache.hits.l2).toBeGreaterThanOrEqual(1)
  expect(stats.database.queries).toBeGreaterThan(0)
}

describe('demo app', () => {
  it('in-memory tier 2: cached routes, the guard, writes, stats', async () => {
    const db = createDatabase({ latencyMs: 0 })
    await exercise(createDemoApp(createCache({ namespace: 'demo' }), db), db)
  })

  describe('on the real cluster through the proxy', () => {
    let proxy: RunningProxy
    beforeAll(async () => {
      proxy = await startTestProxy({ redis: inject('clusterUrl') })
    })
    afterAll(() => proxy.close('1s'))

    it('the same app, tier 2 over HTTP', async () => {
      const db = createDatabase({ latencyMs: 0 })
      const cache = createCache({
        redis: { url: proxy.url, token: TOKENS.standard },
        namespace: `demo-${Date.now()}`,
        timeouts: { l2: '2s' },
      })
      await exercise(createDemoApp(cache, db), db)
    })
  })

  it('tier 2 unreachable from the start: every route still answers, from the database (fail open)', async () => {
    // A port that was free a moment ago: nothing answers there.
    const port = await findFreePortRange(1, false)
    const db = createDatabase({ latencyMs: 0 })
    const cache = createCache({
      redis: { url: `http://127.0.0.1:${port}`, token: 't' },
      namespace: 'demo-down',
      timeouts: { l2: '200ms' },
    })
    const app = createDemoApp(cache, db)
    for (let i = 0; i < 2; i++) {
      const product = await app.request('/products/42')
      expect(product.status).toBe(200)
      expect(await product.json()).toMatchObject({ id: 42 })
      const page = await app.request('/products?page=2')
      expect(page.status).toBe(200)
      expect((await page.json()).products).toHaveLength(20)
    }
    // The guard fails open: an absent id reaches the database, which says 404.
    expect((await app.request('/products/999999')).status).toBe(404)
    const stats = await (await app.request('/stats')).json()
    expect(stats.cache.l2Errors).toBeGreaterThan(0)
    expect(stats.cache.guarded).toBe(0)
  })

  it('npm start with a malformed UPSTASH_REDIS_REST_URL: says so and exits 1', {
    timeout: 30_000,
  }, async () => {
    const child = spawn('node_modules/.bin/tsx', ['examples/demo/main.ts'], {
      env: {
        ...process.env,
        PORT: '0',
        UPSTASH_REDIS_REST_URL: 'localhost:8079',
        UPSTASH_REDIS_REST_TOKEN: 't',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk
    })
    const code = await new Promise<number | null>((r) => child.on('exit', r))
    expect(code).toBe(1)
    expect(stderr).toMatch(
      /^UPSTASH_REDIS_REST_URL \/ UPSTASH_REDIS_REST_TOKEN: Invalid option redis\.url: must be an http\(s\) REST URL, got "localhost:8079"/,
    )
  })

  it('npm start: the demo serves on its port with the in-memory tier 2, and stops on SIGTERM', {
    timeout: 30_000,
  }, async () => {
    const child = spawn('node_modules/.bin/tsx', ['examples/demo/main.ts'], {
      env: { ...process.env, PORT: '0', DEMO_LATENCY_MS: '0', DEMO_FAILURE_RATE: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    try {
      let base = ''
      for await (const line of createInterface({ input: child.stdout })) {
        const match = /listening on (http:\/\/\S+)/.exec(line)
        if (match) {
          base = match[1]!
          break
        }
      }
      expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      const response = await fetch(`${base}/products/7`)
      expect(response.status).toBe(200)
      expect((await response.json()).id).toBe(7)
      const exited = new Promise<number | null>((r) => child.on('exit', r))
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
    } finally {
      child.kill('SIGKILL')
    }
  })
})
