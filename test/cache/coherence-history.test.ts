/**
 * A randomized history checker for the coherence bound: many concurrent readers and writers over
 * several instances (each its own client and L1), with random delays in the loaders and writers,
 * a fifth of the reads forced (`forceFresh`: a load though the key is cached, fenced, joined in
 * process); every read is checked against the writes that completed before it began. A read may return an
 * older version only if every newer write completed less than `maxStaleness` before the read began.
 * Real time (the bound is about real time), on the real cluster through the proxy, and on the
 * in-memory tier 2 for more histories.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createCache } from '../../src/cache/create-cache.js'
import { MemoryStore } from '../../src/cache/memory-store.js'
import type { TierTwoStore } from '../../src/cache/store.js'
import { UpstashStore } from '../../src/cache/upstash-store.js'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { seededRandom } from '../helpers/clock.js'
import { startTestProxy, TOKENS } from '../helpers/proxy.js'

interface HistoryOptions {
  /** A tier 2 per instance (its own client), all over the same data. */
  stores: () => TierTwoStore[]
  seed: number
  maxStalenessMs: number
  keys: number
  readers: number
  writers: number
  readsPerReader: number
  writesPerWriter: number
  /** Upper bound of each random delay (ms). */
  delayMs: number
  /** The share of reads made with `forceFresh` (a load though the key is cached). */
  forcedShare: number
}

interface Result {
  reads: number
  writes: number
  violations: string[]
  /** Reads that returned an older version than the newest completed write (inside the bound). */
  staleInsideBound: number
}

/** Clock resolution slack (ms): `performance.now()` here against the cache's `Date.now()`. */
const SLACK_MS = 2

async function runHistory(o: HistoryOptions): Promise<Result> {
  const random = seededRandom(o.seed)
  const delay = () => new Promise((r) => setTimeout(r, Math.floor(random() * o.delayMs)))
  const namespace = `hist-${o.seed}-${Date.now()}`
  const caches = o.stores().map((store) =>
    createCache({
      redis: store,
      namespace,
      maxStaleness: o.maxStalenessMs,
      ttl: '1h',
      l1: { ttl: '1h' },
      timeouts: { l2: '2s' },
      xfetchBeta: 0,
    }),
  )
  const source = new Map<string, number>()
  const keyOf = () => `k${Math.floor(random() * o.keys)}`
  const pick = () => caches[Math.floor(random() * caches.length)]!
  const completed: Array<{ key: string; version: number; at: number }> = []
  const reads: Array<{ key: string; version: number; began: number }> = []
  // The loader reads the row, then is slow to return it: the race fenced fills must win.
  const loader = async (key: string) => {
    await delay()
    const version = source.get(key) ?? 0
    await delay()
    return { version }
  }
  let nextVersion = 1
  const writer = async () => {
    for (let i = 0; i < o.writesPerWriter; i++) {
      await delay()
      const key = keyOf()
      let version = 0
      await pick().write(key, async () => {
        await delay()
        version = nextVersion++
        source.set(key, version)
      })
      completed.push({ key, version, at: performance.now() })
    }
  }
  const reader = async () => {
    for (let i = 0; i < o.readsPerReader; i++) {
      if (random() < 0.3) await delay()
      const key = keyOf()
      const options = random() < o.forcedShare ? { forceFresh: true } : undefined
      const began = performance.now()
      const value = await pick().getOrLoad(key, loader, options)
      reads.push({ key, version: value?.version ?? 0, began })
    }
  }
  await Promise.all([
    ...Array.from({ length: o.writers }, writer),
    ...Array.from({ length: o.readers }, reader),
  ])
  await Promise.all(caches.map((c) => c.settled()))
  const violations: string[] = []
  let staleInsideBound = 0
  for (const read of reads) {
    let required = 0
    let newest = 0
    for (const w of completed) {
      if (w.key !== read.key || w.at > read.began) continue
      newest = Math.max(newest, w.version)
      if (w.at <= read.began - o.maxStalenessMs - SLACK_MS) required = Math.max(required, w.version)
    }
    if (read.version < required) {
      violations.push(
        `${read.key}: a read that began at ${read.began.toFixed(1)} got version ${read.version}; version ${required} had completed more than ${o.maxStalenessMs} ms before`,
      )
    } else if (read.version < newest) staleInsideBound++
  }
  return { reads: reads.length, writes: completed.length, violations, staleInsideBound }
}

function report(label: string, results: Result[]) {
  const reads = results.reduce((n, r) => n + r.reads, 0)
  const writes = results.reduce((n, r) => n + r.writes, 0)
  const inside = results.reduce((n, r) => n + r.staleInsideBound, 0)
  console.log(
    `${label}: ${results.length} histories, ${reads} reads checked against ${writes} writes; 0 older than the bound; ${inside} reads older than the newest write but inside the bound`,
  )
}

describe('coherence history checker', () => {
  it('in-memory tier 2: 40 histories, 3 instances, maxStaleness 20 ms', { timeout: 120_000 }, async () => {
    const results: Result[] = []
    for (let seed = 1; seed <= 40; seed++) {
      const store = new MemoryStore()
      const result = await runHistory({
        stores: () => [store, store, store],
        seed,
        maxStalenessMs: 20,
        keys: 4,
        readers: 6,
        writers: 2,
        readsPerReader: 60,
        writesPerWriter: 15,
        delayMs: 8,
        forcedShare: 0.2,
      })
      expect(result.violations).toEqual([])
      results.push(result)
    }
    report('in-memory', results)
  })

  describe('on the real cluster through the proxy', () => {
    let proxy: RunningProxy
    beforeAll(async () => {
      proxy = await startTestProxy({ redis: inject('clusterUrl') })
    })
    afterAll(() => proxy.close('1s'))

    for (const maxStalenessMs of [50, 0]) {
      it(`10 histories, 3 instances with their own clients, maxStaleness ${maxStalenessMs} ms`, {
        timeout: 180_000,
      }, async () => {
        const results: Result[] = []
        for (let seed = 100; seed < 110; seed++) {
          const result = await runHistory({
            stores: () => [0, 1, 2].map(() => new UpstashStore({ url: proxy.url, token: TOKENS.standard })),
            seed,
            maxStalenessMs,
            keys: 4,
            readers: 6,
            writers: 2,
            readsPerReader: 40,
            writesPerWriter: 10,
            delayMs: 10,
            forcedShare: 0.2,
          })
          expect(result.violations).toEqual([])
          results.push(result)
        }
        report(`cluster, maxStaleness ${maxStalenessMs} ms`, results)
      })
    }
  })
})
