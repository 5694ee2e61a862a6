/**
 * Soak: mixed traffic for a while (default 10 minutes) through the proxy (its own process, from
 * dist/) in front of a 3+3 cluster started on loopback: caches from several instances
 * (getOrLoad, getMany, write, invalidateTags), raw commands and pipelines, the queue and the stock
 * counter. Reports errors (aim 0) and the proxy's RSS at the start and the end (aim: flat), sampled
 * every 30 s from its /metrics.
 *
 *   npm run bench:soak                 (10 minutes)
 *   npm run bench:soak -- --minutes 1  (a short run)
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from '@upstash/redis'
import { startCluster, stopCluster } from '../../src/cluster/launcher.js'
import { type Cache, createCache } from '../../src/index.js'
import { createQueue } from '../../src/queue/index.js'
import { createStock } from '../../src/stock/index.js'
import { findFreePortRange } from '../../test/helpers/ports.js'
import { median } from '../helpers/median.js'

const minutesFlag = process.argv.indexOf('--minutes')
const MINUTES = minutesFlag > 0 ? Number(process.argv[minutesFlag + 1]) : 10
const TOKEN = 'soak-token'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function rssOf(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text()
  const line = text.split('\n').find((l) => l.startsWith('tiercache_proxy_process_resident_memory_bytes '))
  return Number(line?.split(' ')[1] ?? Number.NaN)
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'tiercache-soak-'))
  const options = { basePort: await findFreePortRange(6), dir }
  await startCluster(options)
  const port = await findFreePortRange(1, false)
  const proxy: ChildProcess = spawn(
    process.execPath,
    [
      'dist/cli/main.js',
      'proxy',
      '--port',
      String(port),
      '--redis',
      `redis://127.0.0.1:${options.basePort}`,
      '--token',
      TOKEN,
      '--log-level',
      'warn',
    ],
    { stdio: 'inherit' },
  )
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) break
    } catch {}
    await sleep(100)
  }
  const errors: string[] = []
  const counts = { cache: 0, raw: 0, queue: 0, stock: 0 }
  const rss: Array<[number, number]> = [[0, await rssOf(url)]]
  const started = Date.now()
  const end = started + MINUTES * 60_000
  const redis = new Redis({ url, token: TOKEN, automaticDeserialization: false })
  const fail = (what: string) => (error: unknown) => {
    if (errors.length < 20) errors.push(`${what}: ${(error as Error).message}`)
    else errors.length++
  }
  const instances: Cache[] = Array.from({ length: 3 }, () =>
    createCache({
      redis: { url, token: TOKEN },
      namespace: 'soak',
      timeouts: { l2: '2s' },
      l1: { ttl: '2s' },
      ttl: '20s',
    }),
  )
  const cacheLoop = async (cache: Cache, seed: number) => {
    for (let i = seed; Date.now() < end; i++) {
      const key = `item:${i % 500}`
      try {
        if (i % 50 === 0) await cache.write(key, async () => {}, { tags: ['items'] })
        else if (i % 500 === 7) await cache.invalidateTags('items')
        else if (i % 20 === 0)
          await cache.getMany([key, `item:${(i + 1) % 500}`, `item:${(i + 2) % 500}`], async (ks) => ks)
        else await cache.getOrLoad(key, async (k) => ({ k, at: i }), { tags: ['items'] })
        counts.cache++
      } catch (error) {
        fail('cache')(error)
      }
      if (i % 100 === 0) await sleep(1)
    }
  }
  const rawLoop = async () => {
    for (let i = 0; Date.now() < end; i++) {
      try {
        const p = redis.pipeline()
        p.set(`raw:{${i % 64}}:a`, String(i))
        p.incr(`raw:{${i % 64}}:n`)
        p.get(`raw:{${i % 64}}:a`)
        await p.exec()
        await redis.mget(`raw:{1}:a`, `raw:{2}:a`, `raw:{3}:a`)
        counts.raw += 2
      } catch (error) {
        fail('raw')(error)
      }
    }
  }
  const queue = createQueue({ redis: { url, token: TOKEN }, name: 'soak' })
  const queueLoop = async () => {
    while (Date.now() < end) {
      try {
        await queue.add(
          Array.from({ length: 20 }, (_, n) => ({ n })),
          { maxLen: 10_000 },
        )
        const summary = await queue.drain(() => {}, { group: 'soak', count: 20, maxMs: 1000 })
        counts.queue += summary.handled
      } catch (error) {
        fail('queue')(error)
      }
      await sleep(20)
    }
  }
  const stock = createStock({ redis: { url, token: TOKEN }, namespace: 'soak' })
  const stockLoop = async () => {
    while (Date.now() < end) {
      try {
        await stock.init('item', 50)
        await Promise.all(Array.from({ length: 60 }, (_, u) => stock.take('item', `u${u}`)))
        counts.stock += 60
      } catch (error) {
        fail('stock')(error)
      }
      await sleep(50)
    }
  }
  const sampler = (async () => {
    while (Date.now() < end) {
      await sleep(30_000)
      rss.push([Math.round((Date.now() - started) / 1000), await rssOf(url)])
    }
  })()
  await Promise.all([
    ...instances.map((c, i) => cacheLoop(c, i * 1000)),
    rawLoop(),
    queueLoop(),
    stockLoop(),
    sampler,
  ])
  rss.push([Math.round((Date.now() - started) / 1000), await rssOf(url)])
  proxy.kill('SIGTERM')
  await stopCluster({ ...options, clean: true })
  rmSync(dir, { recursive: true, force: true })
  const mb = (b: number) => (b / 1024 / 1024).toFixed(1)
  console.log(
    `\nsoak: ${MINUTES} min of mixed traffic through the proxy (its own process) to a 3+3 cluster\n`,
  )
  console.log(
    `operations: cache ${counts.cache.toLocaleString('en-US')}, raw requests ${counts.raw.toLocaleString('en-US')}, queue messages ${counts.queue.toLocaleString('en-US')}, stock takes ${counts.stock.toLocaleString('en-US')}`,
  )
  console.log(`errors: ${errors.length}${errors.length ? `\n  ${errors.slice(0, 20).join('\n  ')}` : ''}`)
  console.log(`proxy RSS (MB) over time: ${rss.map(([t, b]) => `${t}s ${mb(b)}`).join(', ')}`)
  const [, first] = rss[1] ?? rss[0]!
  const [, last] = rss.at(-1)!
  console.log(
    `RSS after the first 30 s → end: ${mb(first)} → ${mb(last)} MB (${(((last - first) / first) * 100).toFixed(1)} %)`,
  )
  // One sample is one instant of a heap that grows and shrinks between collections: the trend
  // over every sample after warm-up says more about a leak than the first and last alone.
  const warm = rss.slice(1)
  if (warm.length >= 4) {
    const half = Math.floor(warm.length / 2)
    console.log(
      `after warm-up: ${mb(Math.min(...warm.map(([, b]) => b)))}–${mb(Math.max(...warm.map(([, b]) => b)))} MB; ` +
        `median of the first half ${mb(median(warm.slice(0, half).map(([, b]) => b)))}, of the second ${mb(median(warm.slice(half).map(([, b]) => b)))} MB; ` +
        `least-squares trend ${((slopePerSecond(warm) * 60) / 1024 / 1024).toFixed(2)} MB a minute`,
    )
  }
}

/** The slope of the least-squares line through (seconds, bytes) points, in bytes a second. */
function slopePerSecond(points: Array<[number, number]>): number {
  const n = points.length
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / n
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n
  let sxy = 0
  let sxx = 0
  for (const [x, y] of points) {
    sxy += (x - meanX) * (y - meanY)
    sxx += (x - meanX) ** 2
  }
  return sxx === 0 ? 0 : sxy / sxx
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
