/**
 * L1 hit path: tiercache's `peek`, `get` and `getOrLoad` on keys already in L1, against raw
 * `lru-cache` on the same keys, an async function that only wraps `lru-cache.get` (the floor of
 * any awaited API), and the hit paths of bentocache and cacheable (memory tiers), in one run.
 *
 * Each case runs alone in a fresh process, three processes per case taking turns (the order
 * rotates), and its figure is the median of the three. In one shared process the cases shaped
 * each other: lru-cache's `get` is one function for every LRUCache, and the case measured first
 * (raw `lru-cache`) had it compiled for its instance alone, while tiercache's (per-item TTLs) later
 * found it compiled for two kinds of instance. `peek` read 0.40–0.56× raw there, run to run; each
 * in a process of its own, both meet `get` as an app with one LRU would.
 *
 *   npm run bench:l1            (per process: a warm-up round and 2 rounds of 1 s)
 *   npm run bench:l1 -- --quick (rounds of 0.3 s)
 */
import { spawn } from 'node:child_process'
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { Cacheable } from 'cacheable'
import { LRUCache } from 'lru-cache'
import { createCache } from '../../src/index.js'
import { median } from '../helpers/median.js'

const quick = process.argv.includes('--quick')
const ROUND_MS = quick ? 300 : 1000
/** Measured rounds per process (after one warm-up round); the process's figure is their mean. */
const ROUNDS = 2
/** Processes per case; the case's figure is their median. */
const PROCESSES = 3
const KEYS = Array.from({ length: 1000 }, (_, i) => `user:${i}`)
const VALUE = { id: 1, name: 'Ada Lovelace', roles: ['admin', 'author'], active: true }

type Op = (key: string) => unknown

/** One case: its name, whether its operation is awaited, and how to set it up (keys already in). */
interface Case {
  name: string
  isAsync: boolean
  setUp: () => Promise<Op>
}

const loader = async () => VALUE

/** An lru-cache holding every key, with per-item TTLs or without. */
function filledLru(withTtl: boolean): LRUCache<string, typeof VALUE> {
  const lru = new LRUCache<string, typeof VALUE>({ max: 10_000 })
  for (const key of KEYS) lru.set(key, VALUE, withTtl ? { ttl: 3_600_000 } : {})
  return lru
}

async function filledTiercache() {
  const cache = createCache({ ttl: '1h', l1: { ttl: '1h' } })
  for (const key of KEYS) await cache.set(key, VALUE)
  return cache
}

async function filledBento() {
  const bento = new BentoCache({
    default: 'memory',
    stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems: 10_000 })) },
  })
  for (const key of KEYS) await bento.set({ key, value: VALUE, ttl: '1h' })
  return bento
}

async function filledCacheable() {
  const cacheable = new Cacheable({ ttl: '1h' })
  for (const key of KEYS) await cacheable.set(key, VALUE)
  return cacheable
}

const CASES: Case[] = [
  {
    name: 'lru-cache get (raw, sync)',
    isAsync: false,
    setUp: async () => {
      const lru = filledLru(false)
      return (k) => lru.get(k)
    },
  },
  {
    // L1 must never hold an entry past its fresh time: per-item TTLs, as tiercache's L1 has them.
    name: 'lru-cache get, entries with TTLs (sync)',
    isAsync: false,
    setUp: async () => {
      const lru = filledLru(true)
      return (k) => lru.get(k)
    },
  },
  {
    name: 'async wrapper of lru-cache get (awaited)',
    isAsync: true,
    setUp: async () => {
      const lru = filledLru(false)
      return async (k) => lru.get(k)
    },
  },
  {
    name: 'tiercache peek (sync)',
    isAsync: false,
    setUp: async () => {
      const cache = await filledTiercache()
      return (k) => cache.peek(k)
    },
  },
  {
    name: 'tiercache get (awaited)',
    isAsync: true,
    setUp: async () => {
      const cache = await filledTiercache()
      return (k) => cache.get(k)
    },
  },
  {
    name: 'tiercache getOrLoad hit (awaited)',
    isAsync: true,
    setUp: async () => {
      const cache = await filledTiercache()
      return (k) => cache.getOrLoad(k, loader)
    },
  },
  {
    name: 'bentocache getOrSet hit (awaited)',
    isAsync: true,
    setUp: async () => {
      const bento = await filledBento()
      return (k) => bento.getOrSet({ key: k, factory: loader })
    },
  },
  {
    name: 'bentocache get hit (awaited)',
    isAsync: true,
    setUp: async () => {
      const bento = await filledBento()
      return (k) => bento.get({ key: k })
    },
  },
  {
    name: 'cacheable getOrSet hit (awaited)',
    isAsync: true,
    setUp: async () => {
      const cacheable = await filledCacheable()
      return (k) => cacheable.getOrSet(k, loader)
    },
  },
  {
    name: 'cacheable get hit (awaited)',
    isAsync: true,
    setUp: async () => {
      const cacheable = await filledCacheable()
      return (k) => cacheable.get(k)
    },
  },
]

/** Operations per second of `op` (awaited when it returns a promise): the mean of the measured rounds. */
async function measure(op: Op, isAsync: boolean): Promise<number> {
  let total = 0
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
    if (round > 0) total += count / ((performance.now() - started) / 1000) // round 0 warms up
  }
  return total / ROUNDS
}

/** In a child: sets up case `index`, measures it, and prints its ops/s. */
async function runCase(index: number): Promise<void> {
  const one = CASES[index]
  if (!one) throw new Error(`no case ${index}`)
  const op = await one.setUp()
  process.stdout.write(`${await measure(op, one.isAsync)}\n`)
  process.exit(0) // bentocache and cacheable keep timers
}

/** Runs case `index` in a fresh process (this script, under the same loader) and reads its ops/s. */
function inChild(index: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const script = fileURLToPath(import.meta.url)
    const args = [...process.execArgv, script, '--case', String(index), ...(quick ? ['--quick'] : [])]
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
    })
    child.once('error', reject)
    child.once('exit', (code) => {
      const rate = Number(out.trim())
      if (code === 0 && rate > 0) resolve(rate)
      else reject(new Error(`case ${CASES[index]!.name} exited ${code}: ${out}`))
    })
  })
}

async function main() {
  const rates = CASES.map(() => [] as number[])
  for (let round = 0; round < PROCESSES; round++) {
    // The order rotates, so no case always runs first or right after another.
    for (let k = 0; k < CASES.length; k++) {
      const index = (k + round) % CASES.length
      rates[index]!.push(await inChild(index))
    }
  }
  const rows = CASES.map((one, i) => ({ name: one.name, opsPerSecond: median(rates[i]!), each: rates[i]! }))

  const by = (name: string) => rows.find((r) => r.name.startsWith(name))!.opsPerSecond
  const raw = by('lru-cache get')
  console.log(
    `\nL1 hit path: ${quick ? 'quick, ' : ''}each case alone in ${PROCESSES} fresh processes (median), ${ROUNDS} rounds of ${ROUND_MS} ms each after a warm-up; 1000 keys; ` +
      `${cpus().length} cores (${cpus()[0]?.model}), node ${process.version}\n`,
  )
  console.log('| case | ops/s (median) | vs raw lru-cache get | each process, vs raw get |')
  console.log('| --- | ---: | ---: | --- |')
  for (const r of rows)
    console.log(
      `| ${r.name} | ${Math.round(r.opsPerSecond).toLocaleString('en-US')} | ${(r.opsPerSecond / raw).toFixed(3)}× | ` +
        `${r.each.map((x) => (x / raw).toFixed(2)).join(', ')} |`,
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
}

const caseFlag = process.argv.indexOf('--case')
;(caseFlag === -1 ? main() : runCase(Number(process.argv[caseFlag + 1]))).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
