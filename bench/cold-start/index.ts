/**
 * Cold start, as serverless users pay it on every new instance: in a fresh Node process, the time
 * from importing the library to the first L1 hit, against the same path with raw `lru-cache`
 * (import, construct, set, get) measured in the same run. And the Worker example's bundle size,
 * minified and gzipped: in all, tiercache with lru-cache, and tiercache's code alone.
 *
 *   npm run bench:cold-start            (15 processes per case; the median is kept)
 *   npm run bench:cold-start -- --quick (5)
 */
import { execFileSync } from 'node:child_process'
import { gzipSync } from 'node:zlib'
import { bundleWorkerExample } from '../../test/helpers/worker-bundle.js'
import { median } from '../helpers/median.js'

const RUNS = process.argv.includes('--quick') ? 5 : 15

const PROGRAMS = {
  'lru-cache: import → first get': `
    const t0 = performance.now()
    const { LRUCache } = await import('lru-cache')
    const l1 = new LRUCache({ max: 10000 })
    l1.set('k', { id: 1 })
    if (!l1.get('k')) throw new Error('no hit')
    console.log(performance.now() - t0)`,
  '@upstash/redis: import → new Redis (for scale: tier 2 needs it anyway)': `
    const t0 = performance.now()
    const { Redis } = await import('@upstash/redis')
    new Redis({ url: 'http://127.0.0.1:1', token: 't' })
    console.log(performance.now() - t0)`,
  'tiercache: import → first L1 hit (in-memory tier 2)': firstHit('tiercache'),
  'the same from the per-module files (exports\' "default": what bundlers read)': firstHit(
    new URL('../../dist/index.js', import.meta.url).href,
  ),
} as const

/** Node's own resolution of `tiercache` picks the bundled build ("node"); the second case loads the other. */
function firstHit(specifier: string): string {
  return `
    const t0 = performance.now()
    const { createCache } = await import(${JSON.stringify(specifier)})
    const cache = createCache()
    await cache.getOrLoad('k', async () => ({ id: 1 }))
    const hits = cache.stats().hits.l1
    await cache.getOrLoad('k', async () => ({ id: 2 }))
    if (cache.stats().hits.l1 !== hits + 1) throw new Error('no L1 hit')
    console.log(performance.now() - t0)`
}

async function main() {
  const rows: string[] = []
  const results: Record<string, number> = {}
  for (const [label, program] of Object.entries(PROGRAMS)) {
    const times: number[] = []
    for (let i = 0; i < RUNS; i++) {
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', program], { encoding: 'utf8' })
      times.push(Number(out.trim()))
    }
    results[label] = median(times)
  }
  const baseline = results['lru-cache: import → first get']!
  for (const [label, ms] of Object.entries(results))
    rows.push(`| ${label} | ${ms.toFixed(1)} | ${(ms / baseline).toFixed(2)}× |`)
  const gz = async (external: string[]) => {
    const result = await bundleWorkerExample(external)
    return gzipSync(result.outputFiles[0]!.contents, { level: 9 }).length
  }
  const whole = await gz([])
  const own = await gz(['@upstash/redis', 'hono'])
  console.log(`\ncold start: fresh node ${process.version} processes, ${RUNS} per case, median\n`)
  console.log('| case | ms | vs lru-cache |')
  console.log('| --- | ---: | ---: |')
  for (const row of rows) console.log(row)
  console.log('\nWorker example bundle (esbuild, minified, gzip -9):\n')
  console.log('| what | bytes gz |')
  console.log('| --- | ---: |')
  console.log(`| whole bundle (tiercache, @upstash/redis) | ${whole.toLocaleString('en-US')} |`)
  console.log(
    `| tiercache's share: its code and its compact L1 (@upstash/redis, hono excluded) | ${own.toLocaleString('en-US')} |`,
  )
  console.log(`\naim: tiercache's own share ≤ 15 KB gz (15,360 B): ${own <= 15360 ? 'met' : 'NOT met'}`)
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
