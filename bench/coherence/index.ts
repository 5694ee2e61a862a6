/**
 * What cross-instance L1 coherence costs: at a given request rate of L1 hits, how many tier-2
 * calls per second the stream sync makes (at most one per `maxStaleness`), and the hit throughput
 * with coherence on, as a ratio to the same cache with it off (`maxStaleness: Infinity`), measured
 * in the same run. Tier 2 is the proxy in front of a 3+3 cluster this benchmark starts on loopback.
 *
 *   npm run bench:coherence            (paced rounds of 3 s; closed loop of 2 s)
 *   npm run bench:coherence -- --quick (1 s and 0.5 s)
 */
import { cpus } from 'node:os'
import { type Cache, createCache } from '../../src/index.js'
import { startBenchCluster } from '../helpers/cluster-proxy.js'
import { median } from '../helpers/median.js'

const quick = process.argv.includes('--quick')
const PACED_MS = quick ? 1000 : 3000
const CLOSED_MS = quick ? 500 : 2000
const KEYS = Array.from({ length: 100 }, (_, i) => `item:${i}`)

/** L1 hits at `rate` per second for `ms` (ticks of 10 ms); the stream reads made meanwhile. */
async function paced(cache: Cache, rate: number, ms: number) {
  const before = cache.stats().sync.reads
  const perTick = Math.max(1, Math.round(rate / 100))
  const started = performance.now()
  let done = 0
  for (let tick = 0; performance.now() - started < ms; tick++) {
    const due = started + tick * 10
    await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())))
    for (let i = 0; i < perTick; i++) await cache.getOrLoad(KEYS[done++ % KEYS.length]!, () => 'never')
  }
  const seconds = (performance.now() - started) / 1000
  return { rate: done / seconds, syncsPerSecond: (cache.stats().sync.reads - before) / seconds }
}

/** As many L1 hits as one caller can make: hits per second. */
async function closedLoop(cache: Cache, ms: number) {
  const started = performance.now()
  let done = 0
  while (performance.now() - started < ms) {
    for (let i = 0; i < 1000; i++) await cache.getOrLoad(KEYS[i % KEYS.length]!, () => 'never')
    done += 1000
  }
  return done / ((performance.now() - started) / 1000)
}

async function main() {
  const cluster = await startBenchCluster('coherence')
  const { proxy, token } = cluster
  const rows: string[] = []
  try {
    const make = (maxStaleness: number | string) =>
      createCache({
        redis: { url: proxy.url, token },
        namespace: `bench-${Date.now()}`,
        maxStaleness: maxStaleness as '1s',
        ttl: '1h',
        l1: { ttl: '1h' },
        timeouts: { l2: '2s' },
      })
    const warm = async (cache: Cache) => {
      // Twice: a new instance keeps nothing in L1 from reads that raced its first cursor.
      for (let round = 0; round < 2; round++)
        for (const key of KEYS) await cache.getOrLoad(key, () => ({ key, price: 42 }))
      await cache.settled()
    }
    for (const maxStaleness of ['1s', '100ms', '0'] as const) {
      for (const rate of [1000, 10_000]) {
        const cache = make(maxStaleness)
        await warm(cache)
        const r = await paced(cache, rate, PACED_MS)
        const bound = { '1s': '≤ 1 /s', '100ms': '≤ 10 /s', '0': 'one per read, shared by concurrent reads' }[
          maxStaleness
        ]
        rows.push(
          `| ${maxStaleness} | ${Math.round(r.rate).toLocaleString('en-US')} | ${r.syncsPerSecond.toFixed(1)} | ${bound} |`,
        )
      }
    }
    const off = make(Number.POSITIVE_INFINITY)
    const on = make('1s')
    await warm(off)
    await warm(on)
    // Alternate the two and keep the median of three rounds each.
    const offRates: number[] = []
    const onRates: number[] = []
    for (let round = 0; round < 3; round++) {
      offRates.push(await closedLoop(off, CLOSED_MS))
      onRates.push(await closedLoop(on, CLOSED_MS))
    }
    const ratio = median(onRates) / median(offRates)
    console.log(
      `\ncoherence: L1 hits through one cache instance, tier 2 = proxy + 3+3 cluster on loopback; ${cpus().length} cores, node ${process.version}\n`,
    )
    console.log('| maxStaleness | L1 hits/s (paced) | stream reads/s | bound |')
    console.log('| --- | ---: | ---: | --- |')
    for (const row of rows) console.log(row)
    console.log(
      `\nclosed loop, median of 3: coherence on (maxStaleness 1s) ${Math.round(median(onRates)).toLocaleString('en-US')} hits/s, ` +
        `off (Infinity) ${Math.round(median(offRates)).toLocaleString('en-US')} hits/s: ratio ${ratio.toFixed(2)}×`,
    )
    console.log('aim: at most one stream read per maxStaleness per instance, whatever the request rate')
  } finally {
    await cluster.stop()
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
