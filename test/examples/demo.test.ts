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
