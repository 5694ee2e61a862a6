/**
 * The Worker example under the real `wrangler dev` (pinned 4.86.0, offline, loopback), with tier 2
 * being the proxy on the real cluster: MISS, then HIT, and the entry in Redis. And the Worker's
 * bundle: no Node-only import, none of the code it does not use (guard, proxy), and its size.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { UpstashStore } from '../../src/cache/upstash-store.js'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { findFreePortRange } from '../helpers/ports.js'
import { startTestProxy, TOKENS } from '../helpers/proxy.js'
import { bundleWorkerExample } from '../helpers/worker-bundle.js'

describe('examples/worker under wrangler dev', () => {
  let proxy: RunningProxy
  beforeAll(async () => {
    proxy = await startTestProxy({ redis: inject('clusterUrl') })
  })
  afterAll(() => proxy.close('1s'))

  it('MISS, then HIT; the entry is in the cluster', { timeout: 90_000 }, async () => {
    const port = await findFreePortRange(2, false)
    const child = spawn(
      'node_modules/.bin/wrangler',
      [
        'dev',
        '--port',
        String(port),
        '--inspector-port',
        String(port + 1),
        '--ip',
        '127.0.0.1',
        '--var',
        `UPSTASH_REDIS_REST_URL:${proxy.url}`,
        '--var',
        `UPSTASH_REDIS_REST_TOKEN:${TOKENS.standard}`,
      ],
      {
        // Its own process group: wrangler's workerd child goes down with it.
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          WRANGLER_SEND_METRICS: 'false',
          XDG_CONFIG_HOME: mkdtempSync(join(tmpdir(), 'tiercache-wrangler-')),
        },
      },
    )
    let log = ''
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        log += chunk
        if (/Ready on http/.test(log)) resolve()
      }
      child.stdout.on('data', onData)
      child.stderr.on('data', onData)
      child.on('exit', (code) => reject(new Error(`wrangler dev exited (${code}):\n${log}`)))
    })
    try {
      await ready
      const base = `http://127.0.0.1:${port}`
      const first = await fetch(`${base}/products/7`)
      expect(first.status).toBe(200)
      expect(first.headers.get('x-cache')).toBe('MISS')
      const product = await first.json()
      expect(product).toMatchObject({ id: 7, name: 'product 7' })
      const second = await fetch(`${base}/products/7`)
      expect(second.headers.get('x-cache')).toBe('HIT')
      expect(await second.json()).toEqual(product)
      expect((await fetch(`${base}/nothing`)).status).toBe(404)
      // Background work went to ctx.waitUntil: the entries reached tier 2.
      const store = new UpstashStore({ url: proxy.url, token: TOKENS.standard })
      const [entry] = await store.getMany(['worker-example:product:7'])
      expect(entry).toContain('"name":"product 7"')
    } finally {
      if (child.pid) process.kill(-child.pid, 'SIGTERM')
    }
  })
})

describe('the Worker bundle', () => {
  const bundle = bundleWorkerExample

  it('has no Node-only import and none of the code the Worker does not use', async () => {
    const result = await bundle([])
    const inputs = Object.keys(result.metafile.inputs)
    expect(inputs.filter((f) => /(src|dist)\/(guard|queue|stock|proxy|cluster|cli)\//.test(f))).toEqual([])
    expect(inputs.filter((f) => /node_modules\/(ioredis|hono|bloom-filters|pino)\//.test(f))).toEqual([])
    const code = result.outputFiles[0]!.text
    expect(code).not.toMatch(/from\s*"node:|require\("node:|import\("node:/)
  })

  it('tiercache’s share, everything it brings (@upstash/redis and hono excluded), is at most 15 KB gzipped', async () => {
    const whole = await bundle([])
    const own = await bundle(['@upstash/redis', 'hono'])
    const gz = (result: typeof whole) => gzipSync(result.outputFiles[0]!.contents, { level: 9 }).length
    console.log(`worker bundle, minified + gzipped: ${gz(whole)} B in all; tiercache's share ${gz(own)} B`)
    // The edge adapter's cache keeps L1 in the compact LRU: no byte of lru-cache is in the bundle.
    const inBundle = Object.entries(Object.values(whole.metafile.outputs)[0]!.inputs)
      .filter(([, input]) => input.bytesInOutput > 0)
      .map(([file]) => file)
    expect(inBundle.filter((f) => f.includes('node_modules/lru-cache/'))).toEqual([])
    expect(inBundle.some((f) => /(src|dist)\/cache\/compact-lru\./.test(f))).toBe(true)
    expect(gz(own)).toBeLessThanOrEqual(15 * 1024)
  })
})
