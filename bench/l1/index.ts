/**
 * L1 hit path: tiercache's `peek`, `get` and `getOrLoad` on keys already in L1, against raw
 * `lru-cache` on the same keys, an async function that only wraps `lru-cache.get` (the floor of
 * any awaited API), and the hit paths of bentocache and cacheable (memory tiers), in one run.
 *
 *   npm run bench:l1            (3 rounds of 1 s per case; the median is kept)
 *   npm run bench:l1 -- --quick (3 rounds of 0.3 s)
 */
import { cpus } from 'node:os'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { Cacheable } from 'cacheable'
import { LRUCache } from 'lru-cache'
import { createCache } from '../../src/index.js'

const quick = process.argv.includes('--quick')
const ROUND_MS = quick ? 300 : 1000
const ROUNDS = 3
const KEYS = Array.from({ length: 1000 }, (_, i) => `user:${i}`)
const VALUE = { id: 1, name: 'Ada Lovelace', roles: ['admin', 'author'], active: true }

type Op = (key: string) => unknown

/** Operations per second of `op` (awaited when it returns a promise), median of the rounds. */
async function measure(op: Op, isAsync: boolean): Promise<number> {
  const rates: number[] = []
  for (let round = 0; round < ROUNDS + 1; round++) {
    let count = 0
    const started = performance.now()
    const end = started + ROUND_MS
    while (performance.now() < end) {
      // Batches of 1000 keep the clock reads out of the measurement.
      if (isAsync) for (let i = 0; i < 1000; i++) await op(KEYS[i]!)
      else for (let i = 0; i < 1000; i++) op(KEYS[i]!)
      count += 1000
    }
    if (round > 0) rates.push(count / ((performance.now() - started) / 1000)) // round 0 warms up
  }
  rates.sort((a, b) => a - b)
  return rates[Math.floor(rates.length / 2)]!
}

async function main() {
  const lru = new LRUCache<string, typeof VALUE>({ max: 10_000 })
  for (const key of KEYS) lru.set(key, VALUE)
  const asyncWrapper = async (key: string) => lru.get(key)
  // L1 must never hold an entry past its fresh time: per-item TTLs, as tiercache's L1 has them.
  const lruTtl = new LRUCache<string, typeof VALUE>({ max: 10_000 })
  for (const key of KEYS) lruTtl.set(key, VALUE, { ttl: 3_600_000 })

  const cache = createCache({ ttl: '1h', l1: { ttl: '1h' } })
  for (const key of KEYS) await cache.set(key, VALUE)
  const loader = async () => VALUE

  const bento = new BentoCache({
    default: 'memory',
    stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems: 10_000 })) },
  })
  for (const key of KEYS) await bento.set({ key, value: VALUE, ttl: '1h' })

  const cacheable = new Cacheable({ ttl: '1h' })
  for (const key of KEYS) await cacheable.set(key, VALUE)

  const rows: Array<{ name: string; opsPerSecond: number }> = []
  const run = async (name: string, op: Op, isAsync: boolean) =>
    rows.push({ name, opsPerSecond: await measure(op, isAsync) })
  await run('lru-cache get (raw, sync)', (k) => lru.get(k), false)
  await run('lru-cache get, entries with TTLs (sync)', (k) => lruTtl.get(k), false)
  await run('async wrapper of lru-cache get (awaited)', asyncWrapper, true)
  await run('tiercache peek (sync)', (k) => cache.peek(k), false)
  await run('tiercache get (awaited)', (k) => cache.get(k), true)
  await run('tiercache getOrLoad hit (awaited)', (k) => cache.getOrLoad(k, loader), true)
  await run('bentocache getOrSet hit (awaited)', (k) => bento.getOrSet({ key: k, factory: loader }), true)
  await run('bentocache get hit (awaited)', (k) => bento.get({ key: k }), true)
  await run('cacheable getOrSet hit (awaited)', (k) => cacheable.getOrSet(k, loader), true)
  await run('cacheable get hit (awaited)', (k) => cacheable.get(k), true)

  const by = (name: string) => rows.find((r) => r.name.startsWith(name))!.opsPerSecond
  const raw = by('lru-cache get')
  console.log(
    `\nL1 hit path: ${quick ? 'quick, ' : ''}${ROUNDS} rounds of ${ROUND_MS} ms, median; 1000 keys; ` +
      `${cpus().length} cores (${cpus()[0]?.model}), node ${process.version}\n`,
  )
  console.log('| case | ops/s | vs raw lru-cache get |')
  console.log('| --- | ---: | ---: |')
  for (const r of rows)
    console.log(
      `| ${r.name} | ${Math.round(r.opsPerSecond).toLocaleString('en-US')} | ${(r.opsPerSecond / raw).toFixed(3)}× |`,
    )

  const floor = by('async wrapper')
  const getOrLoad = by('tiercache getOrLoad')
  const peek = by('tiercache peek')
  const bentoHit = by('bentocache getOrSet')
  const cacheableHit = by('cacheable getOrSet')
  const check = (ok: boolean) => (ok ? 'met' : 'NOT met')
  console.log(
    `\naims: getOrLoad hit costs ${(floor / getOrLoad).toFixed(2)}× the async wrapper (≤ 1.5×: ${check(floor / getOrLoad <= 1.5)}); ` +
      `peek runs at ${(peek / raw).toFixed(2)}× raw get (≥ 0.5×: ${check(peek / raw >= 0.5)}; ` +
      `${(peek / by('lru-cache get, entries with TTLs')).toFixed(2)}× lru-cache with TTLs); ` +
      `getOrLoad hit is ${(getOrLoad / bentoHit).toFixed(1)}× bentocache's and ${(getOrLoad / cacheableHit).toFixed(1)}× cacheable's ` +
      `(≥ 10× both: ${check(getOrLoad / bentoHit >= 10 && getOrLoad / cacheableHit >= 10)})`,
  )
  await bento.disconnectAll()
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
