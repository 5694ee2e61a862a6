/**
 * The two-tier cache with injected clock and randomness: no test sleeps (the timeout tests wait
 * for a 20 ms tier-2 timeout, which is the behaviour under test).
 */
import { describe, expect, inject, it, vi } from 'vitest'
import { createCache } from '../../src/cache/create-cache.js'
import { createEdgeCache } from '../../src/cache/create-edge-cache.js'
import type { CacheEvent } from '../../src/cache/events.js'
import { MemoryStore } from '../../src/cache/memory-store.js'
import type { TierTwoStore } from '../../src/cache/store.js'
import { uncached } from '../../src/cache/uncached.js'
import { UpstashStore } from '../../src/cache/upstash-store.js'
import {
  InvalidKeyError,
  InvalidOptionError,
  LoaderError,
  UnserializableValueError,
} from '../../src/errors.js'
import { ManualClock, seededRandom } from '../helpers/clock.js'
import { startTestProxy, TOKENS } from '../helpers/proxy.js'

/** A memory store that counts round trips. */
class CountingStore extends MemoryStore {
  // Tier-2 round trips that read: plain reads and the miss path's read-or-lock.
  calls = { reads: 0, set: 0 }
  override async getMany(keys: string[]) {
    this.calls.reads++
    return super.getMany(keys)
  }
  override async readOrLock(key: string, token: string, lockTtlMs: number, now: number) {
    this.calls.reads++
    return super.readOrLock(key, token, lockTtlMs, now)
  }
  override async set(key: string, value: string, ttlMs: number) {
    this.calls.set++
    return super.set(key, value, ttlMs)
  }
}

function setup(options: Parameters<typeof createCache>[0] = {}) {
  const clock = new ManualClock()
  const store = new CountingStore(clock.now)
  const events: CacheEvent[] = []
  const cache = createCache({
    redis: store,
    // One instance alone: these tests are about one cache (coherence has its own tests).
    maxStaleness: Number.POSITIVE_INFINITY,
    clock,
    random: seededRandom(),
    onEvent: (e) => events.push(e),
    ...options,
  })
  return { clock, store, cache, events }
}

describe('getOrLoad', () => {
  it('loads once, then serves L1 without touching tier 2, then tier 2 after L1 expires', async () => {
    const { cache, store, clock } = setup({ ttl: '10m', l1: { ttl: '5s' } })
    const loader = vi.fn(async (id: string) => ({ id, name: 'Ada' }))
    expect(await cache.getOrLoad('user:1', loader)).toEqual({ id: 'user:1', name: 'Ada' })
    await cache.settled()
    expect(loader).toHaveBeenCalledTimes(1)
    const reads = store.calls.reads
    expect(await cache.getOrLoad('user:1', loader)).toEqual({ id: 'user:1', name: 'Ada' })
    expect(store.calls.reads).toBe(reads) // L1 hit: no tier-2 call
    clock.advance(6000) // past l1.ttl (5 s ± 10 %), still fresh in tier 2
    expect(await cache.getOrLoad('user:1', loader)).toEqual({ id: 'user:1', name: 'Ada' })
    expect(store.calls.reads).toBe(reads + 1)
    expect(loader).toHaveBeenCalledTimes(1)
    expect(cache.stats().hits).toEqual({ l1: 1, l2: 1 })
  })

  it('stats() reports its documented fields and no other (the counters carry the same names)', () => {
    const { cache } = setup()
    expect(cache.stats()).toEqual({
      hits: { l1: 0, l2: 0 },
      misses: 0,
      loads: 0,
      loadErrors: 0,
      nullHits: 0,
      staleServed: 0,
      rejected: 0,
      guarded: 0,
      l2Errors: 0,
      rebuildWaits: 0,
      rebuildWaitTimeouts: 0,
      fillsRefused: 0,
      uncached: 0,
      sync: { reads: 0, dropped: 0, resets: 0 },
      pendingInvalidations: 0,
      earlyRefreshes: 0,
      refreshErrors: 0,
      circuit: 'closed',
      l1: { entries: 0, bytes: 0 },
    })
    expect(Object.keys(cache.stats())[0]).toBe('hits') // a printed stats() (the demo's /stats) opens with them
  })

  it('reloads after the fresh time (ttl ± jitter) has passed', async () => {
    const { cache, clock } = setup({ ttl: '60s', jitter: 0.1 })
    let version = 0
    const loader = async () => ++version
    expect(await cache.getOrLoad('k', loader)).toBe(1)
    await cache.settled()
    clock.advance(53_000) // before the earliest possible expiry (54 s)
    expect(await cache.getOrLoad('k', loader)).toBe(1)
    clock.advance(14_000) // after the latest (66 s)
    expect(await cache.getOrLoad('k', loader)).toBe(2)
  })

  it('caches "nothing there" as a null marker for nullTtl, and counts null hits', async () => {
    const { cache, clock, store } = setup({ nullTtl: '30s', jitter: 0 })
    const loader = vi.fn(async () => undefined)
    expect(await cache.getOrLoad('missing', loader)).toBeNull()
    await cache.settled()
    expect(await cache.getOrLoad('missing', loader)).toBeNull()
    clock.advance(10_000) // past l1.ttl: the null marker comes from tier 2
    expect(await cache.getOrLoad('missing', loader)).toBeNull()
    expect(loader).toHaveBeenCalledTimes(1)
    expect(cache.stats().nullHits).toBe(2)
    expect(await cache.get('missing')).toBeNull()
    clock.advance(21_000)
    expect(await cache.getOrLoad('missing', loader)).toBeNull()
    expect(loader).toHaveBeenCalledTimes(2)
    expect(store.calls.set).toBe(2)
  })

  it('runs the loader once for concurrent callers in one process, sharing its result', async () => {
    const { cache } = setup()
    let release!: (v: string) => void
    const loader = vi.fn(() => new Promise<string>((r) => (release = r)))
    const calls = Array.from({ length: 100 }, () => cache.getOrLoad('hot', loader))
    await vi.waitFor(() => expect(loader).toHaveBeenCalledTimes(1))
    release('value')
    expect(await Promise.all(calls)).toEqual(Array.from({ length: 100 }, () => 'value'))
    expect(loader).toHaveBeenCalledTimes(1)
  })

  it('a listener that throws fails no cache call, and is reported once', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      const onEvent = vi.fn(() => {
        throw new Error('listener bug')
      })
      const { cache, store } = setup({ onEvent })
      expect(await cache.getOrLoad('a', async () => 'one')).toBe('one') // miss, load
      expect(await cache.getOrLoad('a', async () => 'two')).toBe('one') // L1 hit
      expect(await cache.getMany(['a', 'b'], async (keys) => keys.map(() => 'many'))).toEqual(['one', 'many'])
      await cache.write('a', async () => {})
      expect(await cache.getOrLoad('a', async () => 'three')).toBe('three')
      await cache.settled()
      expect(await store.getMany(['tc:b'])).toEqual([expect.stringContaining('"many"')]) // the fill went on
      expect(onEvent.mock.calls.length).toBeGreaterThan(5)
      expect(logged).toHaveBeenCalledTimes(1)
      expect(String(logged.mock.calls[0]![0])).toMatch(
        /^tiercache: onEvent threw on "miss" \(ignored; logged once\):$/,
      )
    } finally {
      logged.mockRestore()
    }
  })

  it('shares a loader error among concurrent callers, as a typed error with the key, and caches nothing', async () => {
    const { cache, events } = setup()
    const failure = new Error('db down')
    const loader = vi.fn(async () => {
      throw failure
    })
    const results = await Promise.allSettled([cache.getOrLoad('k', loader), cache.getOrLoad('k', loader)])
    expect(loader).toHaveBeenCalledTimes(1)
    for (const r of results) {
      expect(r.status).toBe('rejected')
      const error = (r as PromiseRejectedResult).reason as LoaderError
      expect(error).toBeInstanceOf(LoaderError)
      expect(error.code).toBe('E_LOADER')
      expect(error.key).toBe('k')
      expect(error.cause).toBe(failure)
    }
    expect(await cache.getOrLoad('k', async () => 'recovered')).toBe('recovered')
    expect(events.some((e) => e.type === 'loadError')).toBe(true)
  })

  it('serves a stale value inside grace and refreshes it once in the background', async () => {
    const { cache, clock } = setup({ ttl: '10s', grace: '1m', jitter: 0 })
    let version = 0
    const loader = vi.fn(async () => ++version)
    expect(await cache.getOrLoad('k', loader)).toBe(1)
    await cache.settled()
    clock.advance(15_000) // stale, inside grace
    const [a, b] = await Promise.all([cache.getOrLoad('k', loader), cache.getOrLoad('k', loader)])
    expect([a, b]).toEqual([1, 1])
    await cache.settled()
    expect(loader).toHaveBeenCalledTimes(2)
    expect(await cache.getOrLoad('k', loader)).toBe(2)
    expect(cache.stats().staleServed).toBe(1)
  })
})

describe('values', () => {
  it('round-trip through tier 2 as JSON, with Dates coming back as Dates', async () => {
    const { cache, clock } = setup()
    const value = {
      at: new Date('2026-11-21T05:00:00.000Z'),
      list: [1, 'two', null, { three: true }],
      unicode: 'zoë 🚀',
      // A user's JSON may hold the key tiercache marks Dates with: it comes back an object.
      form: { '$tiercache:date': 'not a date', at: new Date(0) },
    }
    await cache.set('v', value)
    clock.advance(10_000) // past L1: read back from tier 2
    const back = await cache.get<typeof value>('v')
    expect(back).toEqual(value)
    expect(back?.at).toBeInstanceOf(Date)
  })

  it('refuses what JSON cannot carry, clearly, instead of changing it', async () => {
    const { cache } = setup()
    for (const [bad, what] of [
      [{ n: 10n }, 'a bigint'],
      [new Map([[1, 2]]), 'a Map'],
      [{ s: new Set([1]) }, 'a Set'],
      [{ f: () => 1 }, 'a function'],
      [{ x: Number.NaN }, 'the number NaN'],
      [new Date('nope'), 'an invalid Date'],
    ] as const) {
      await expect(cache.set('bad', bad)).rejects.toThrowError(UnserializableValueError)
      await expect(cache.set('bad', bad)).rejects.toThrowError(what)
    }
    await expect(cache.getOrLoad('bad2', async () => ({ big: 1n }))).rejects.toThrowError(
      /cannot be cached: it contains a bigint/,
    )
  })
})

describe('uncached() and the loader info', () => {
  it('uncached(value): returned to the caller, stored in neither tier, counted', async () => {
    const { cache, store } = setup()
    expect(await cache.getOrLoad('k', async () => uncached({ private: true }))).toEqual({ private: true })
    await cache.settled()
    expect(cache.peek('k')).toBeUndefined()
    expect(await store.getMany(['tc:k'])).toEqual([undefined])
    expect(cache.stats().uncached).toBe(1)
    // The rebuild lock was released: the next caller loads at once.
    expect(await cache.getOrLoad('k', async () => 'stored')).toBe('stored')
  })

  it('a loader is told whether it refreshes a value served meanwhile', async () => {
    const { cache, clock } = setup({ ttl: '10s', grace: '1m', jitter: 0 })
    const seen: boolean[] = []
    const loader = async (_key: string, info: { refreshing: boolean }) => {
      seen.push(info.refreshing)
      return seen.length
    }
    expect(await cache.getOrLoad('k', loader)).toBe(1)
    await cache.settled()
    clock.advance(11_000)
    expect(await cache.getOrLoad('k', loader)).toBe(1) // stale, refreshed in the background
    await cache.settled()
    expect(seen).toEqual([false, true])
  })
})

describe('the rest of the API', () => {
  it('get, set, delete, peek', async () => {
    const { cache, clock } = setup()
    expect(await cache.get('a')).toBeUndefined()
    expect(cache.peek('a')).toBeUndefined()
    await cache.set('a', 1)
    expect(cache.peek('a')).toBe(1)
    expect(await cache.get('a')).toBe(1)
    await cache.set('b', null)
    expect(cache.peek('b')).toBeNull()
    await cache.delete(['a', 'b'])
    expect(cache.peek('a')).toBeUndefined()
    clock.advance(10_000)
    expect(await cache.get('a')).toBeUndefined()
    expect(await cache.get('b')).toBeUndefined()
  })

  it('getFromL1: synchronous, L1 only, counted as an L1 hit; undefined (and uncounted) otherwise', async () => {
    const { cache, clock, events } = setup()
    expect(cache.getFromL1('a')).toBeUndefined()
    expect(cache.stats().hits.l1).toBe(0)
    expect(cache.stats().misses).toBe(0)
    await cache.set('a', { n: 1 })
    await cache.set('nothing', null)
    expect(cache.getFromL1('a')).toEqual({ n: 1 })
    expect(cache.getFromL1('nothing')).toBeNull()
    expect(cache.stats().hits.l1).toBe(2)
    expect(events.filter((e) => e.type === 'hit')).toEqual([
      { type: 'hit', key: 'a', tier: 'l1', nullMarker: false },
      { type: 'hit', key: 'nothing', tier: 'l1', nullMarker: true },
    ])
    clock.advance(10_000) // past its fresh time: gone from L1, tier 2 would be asked
    expect(cache.getFromL1('a')).toBeUndefined()
    expect(() => cache.getFromL1('')).toThrowError(/Invalid cache key "": is empty/)
  })

  it('getMany: one tier-2 round trip for all L1 misses; loadMany gets only the still-missing keys', async () => {
    const { cache, store, clock } = setup()
    await cache.set('m1', 'one') // in L1
    await cache.set('m2', 'two')
    clock.advance(10_000) // m1, m2 now only in tier 2
    await cache.set('m3', 'three') // in L1
    const loadMany = vi.fn(async (keys: string[]) => keys.map((k) => (k === 'm5' ? null : `loaded ${k}`)))
    const reads = store.calls.reads
    expect(await cache.getMany(['m1', 'm2', 'm3', 'm4', 'm5'], loadMany)).toEqual([
      'one',
      'two',
      'three',
      'loaded m4',
      null,
    ])
    expect(store.calls.reads).toBe(reads + 1)
    expect(loadMany).toHaveBeenCalledWith(['m4', 'm5'])
    expect(await cache.getMany(['m4', 'm5', 'm6'])).toEqual(['loaded m4', null, undefined])
    const errorsBefore = cache.stats().loadErrors
    await expect(cache.getMany(['x1', 'x2'], async () => ['only one'])).rejects.toThrowError(
      /must return an array of 2 values/,
    )
    // Counted as a failed load, as a loader that throws is.
    expect(cache.stats().loadErrors).toBe(errorsBefore + 1)
  })

  it('getMany: single flight per key in one process, with other getManys and with getOrLoad', async () => {
    const { cache } = setup()
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const loadMany = vi.fn(async (keys: string[]) => {
      await gate
      return keys.map((k) => `batch ${k}`)
    })
    const loader = vi.fn(async (key: string) => `one ${key}`)
    // 50 concurrent batches over the same cold keys, the same key twice in one of them, and a
    // getOrLoad started while the batch loads: one loadMany call, with each key once.
    const batches = Array.from({ length: 50 }, () => cache.getMany(['a', 'b', 'a'], loadMany))
    const single = cache.getOrLoad('b', loader)
    await vi.waitFor(() => expect(loadMany).toHaveBeenCalledTimes(1))
    release()
    for (const batch of await Promise.all(batches)) expect(batch).toEqual(['batch a', 'batch b', 'batch a'])
    expect(await single).toBe('batch b')
    expect(loadMany).toHaveBeenCalledWith(['a', 'b'])
    expect(loadMany).toHaveBeenCalledTimes(1)
    expect(loader).not.toHaveBeenCalled()

    // The other way round: a getOrLoad under way is joined; loadMany gets only the other keys.
    let releaseOne!: (v: string) => void
    const slow = cache.getOrLoad('c', () => new Promise<string>((r) => (releaseOne = r)))
    await vi.waitFor(() => expect(releaseOne).toBeTypeOf('function'))
    const batch = cache.getMany(['c', 'd'], loadMany)
    releaseOne('one c')
    expect(await batch).toEqual(['one c', 'batch d'])
    expect(loadMany).toHaveBeenLastCalledWith(['d'])
    expect(await slow).toBe('one c')
  })

  it('getMany: a failed batch fails its joiners, and a key tier 2 had is still answered to its own', async () => {
    const { cache, clock } = setup()
    await cache.set('there', 'from tier 2')
    clock.advance(10_000) // out of L1, still in tier 2
    let fail!: (error: Error) => void
    const loadMany = vi.fn(() => new Promise<string[]>((_, reject) => (fail = reject)))
    const batch = cache.getMany(['there', 'gone'], loadMany)
    // Both join the batch's flights (registered before its tier-2 read goes out).
    const joinedThere = cache.getOrLoad('there', async () => 'loaded')
    const joinedGone = cache.getOrLoad('gone', async () => 'loaded')
    await vi.waitFor(() => expect(loadMany).toHaveBeenCalledTimes(1))
    const failure = new Error('db down')
    fail(failure)
    await expect(batch).rejects.toMatchObject({ code: 'E_LOADER', cause: failure })
    await expect(joinedGone).rejects.toMatchObject({ code: 'E_LOADER', cause: failure })
    expect(await joinedThere).toBe('from tier 2')
    // Nothing was cached for the failed key: the next caller loads.
    expect(await cache.getOrLoad('gone', async () => 'recovered')).toBe('recovered')
  })

  it('namespaces prefix keys and share everything else', async () => {
    const { cache, store } = setup({ namespace: 'app' })
    const users = cache.namespace('users')
    await users.set('1', 'ada')
    expect(await store.getMany(['app:users:1'])).toEqual([expect.stringContaining('"ada"')])
    expect(cache.peek('users:1')).toBe('ada')
    expect(users.peek('1')).toBe('ada')
    expect(() => cache.namespace('')).toThrowError(InvalidKeyError)
  })

  it('validate: a key that cannot exist is answered null at once, touching nothing', async () => {
    const { cache, store } = setup({ validate: (key) => /^user:\d+$/.test(key) })
    const loader = vi.fn(async () => 'x')
    expect(await cache.getOrLoad('user:abc', loader)).toBeNull()
    expect(await cache.get('user:abc')).toBeNull()
    expect(loader).not.toHaveBeenCalled()
    expect(store.calls.reads).toBe(0)
    expect(cache.stats().rejected).toBe(2)
  })

  it('bad keys throw a typed error', async () => {
    const { cache } = setup()
    for (const bad of ['', 'x'.repeat(2000), 42, undefined]) {
      await expect(cache.getOrLoad(bad as string, async () => 1)).rejects.toThrowError(InvalidKeyError)
      await expect(cache.get(bad as string)).rejects.toThrowError(InvalidKeyError)
    }
    await expect(cache.getOrLoad('', async () => 1)).rejects.toMatchObject({ code: 'E_INVALID_KEY' })
    expect(() => cache.peek('')).toThrowError(/Invalid cache key "": is empty/)
  })

  it('stats count what happened; events and stats stay quiet with no listener', async () => {
    const { cache, events } = setup()
    await cache.getOrLoad('s', async () => 1)
    await cache.settled() // a fenced fill reaches L1 once tier 2 has accepted it
    await cache.getOrLoad('s', async () => 1)
    expect(cache.stats()).toMatchObject({
      hits: { l1: 1, l2: 0 },
      misses: 1,
      loads: 1,
      l2Errors: 0,
      circuit: 'closed',
    })
    expect(cache.stats().l1.entries).toBe(1)
    expect(cache.stats().l1.bytes).toBeGreaterThan(10)
    expect(events.map((e) => e.type)).toEqual(['miss', 'load', 'hit'])
    const quiet = createCache()
    expect(await quiet.getOrLoad('q', async () => 'fine')).toBe('fine')
  })

  it('L1 is bounded by entries and by bytes', async () => {
    const { cache } = setup({ l1: { max: 3 } })
    for (const k of ['a', 'b', 'c', 'd']) await cache.set(k, k)
    expect(cache.stats().l1.entries).toBe(3)
    expect(cache.peek('a')).toBeUndefined()
    const small = setup({ l1: { maxSize: 200 } }).cache
    for (let i = 0; i < 10; i++) await small.set(`k${i}`, 'x'.repeat(40))
    expect(small.stats().l1.bytes).toBeLessThanOrEqual(200)
    expect(small.stats().l1.entries).toBeLessThan(10)
  })
})

describe('options', () => {
  it('a bad option throws at createCache, naming it', () => {
    const cases: Array<[Parameters<typeof createCache>[0], RegExp]> = [
      [{ ttl: -1 }, /Invalid option ttl/],
      [{ ttl: '10 minutes' as '10m' }, /Invalid option ttl/],
      [{ ttl: 0 }, /Invalid option ttl: must be more than 0/],
      [{ jitter: 1 }, /Invalid option jitter: must be a number in \[0, 1\)/],
      [{ jitter: -0.1 }, /Invalid option jitter/],
      [{ nullTtl: 'soon' as '1s' }, /Invalid option nullTtl/],
      [{ grace: -5 }, /Invalid option grace/],
      [{ l1: { max: 0 } }, /Invalid option l1\.max/],
      [{ l1: { maxSize: 1.5 } }, /Invalid option l1\.maxSize/],
      [{ l1: { ttl: '0s' } }, /Invalid option l1\.ttl/],
      [{ timeouts: { l2: 'fast' as '1ms' } }, /Invalid option timeouts\.l2/],
      [{ validate: 'yes' as unknown as () => boolean }, /Invalid option validate/],
      [{ clock: {} as { now(): number } }, /Invalid option clock/],
    ]
    for (const [options, message] of cases) {
      expect(() => createCache(options)).toThrowError(InvalidOptionError)
      expect(() => createCache(options)).toThrowError(message)
    }
  })

  it('a value no JSON can show (a BigInt, NaN, a cycle) is still named, with what was given', async () => {
    // The messages printed values with JSON.stringify, which throws on a BigInt and a cycle (a
    // TypeError that named no option) and prints NaN as null.
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    const cases: Array<[Parameters<typeof createCache>[0], RegExp]> = [
      [
        { l1: { max: 10n as unknown as number } },
        /^Invalid option l1\.max: must be a positive integer, got 10n$/,
      ],
      [{ l1: { max: Number.NaN } }, /^Invalid option l1\.max: must be a positive integer, got NaN$/],
      [{ jitter: 1n as unknown as number }, /^Invalid option jitter: .*got 1n$/],
      [{ xfetchBeta: cycle as unknown as number }, /^Invalid option xfetchBeta: .*got object$/],
      [
        { breaker: { failures: Symbol('x') as unknown as number } },
        /^Invalid option breaker\.failures: .*got symbol$/,
      ],
    ]
    for (const [options, message] of cases) expect(() => createCache(options)).toThrowError(message)
    const cache = createCache({})
    await expect(cache.set('a', 1, { tags: [1n] as unknown as string[] })).rejects.toThrowError(
      /^Invalid option tags: must be non-empty strings, got 1n$/,
    )
  })

  it('an unknown name is refused, not left to keep a default in force; a near miss is suggested', () => {
    const cases: Array<[unknown, RegExp]> = [
      [
        { maxstaleness: 0 },
        /^Invalid option maxstaleness: is not an option \(did you mean maxStaleness\?\); known: redis, namespace/,
      ],
      [{ ttL: '1m' }, /^Invalid option ttL: is not an option \(did you mean ttl\?\)/],
      [
        { l1: { maxsize: 10 } },
        /^Invalid option l1\.maxsize: is not an option \(did you mean maxSize\?\); known: max, maxSize, ttl$/,
      ],
      [
        { rebuild: { timeout: '1s' } },
        /^Invalid option rebuild\.timeout: is not an option; known: lockTtl, wait, onWaitTimeout$/,
      ],
      [{ breaker: { threshold: 3 } }, /^Invalid option breaker\.threshold: is not an option/],
      [{ l1: 100 }, /^Invalid option l1: must be an object, got 100/],
      [{ timeouts: ['100ms'] }, /^Invalid option timeouts: must be an object/],
      [null, /^Invalid option options: must be an object, got null/],
    ]
    for (const [options, message] of cases) {
      expect(() => createCache(options as Parameters<typeof createCache>[0])).toThrowError(message)
      expect(() => createEdgeCache(options as Parameters<typeof createEdgeCache>[0])).toThrowError(message)
    }
    // Every documented name is known (a smoke test that the list and the options agree).
    expect(() =>
      createCache({
        namespace: 'n',
        ttl: '1m',
        jitter: 0,
        nullTtl: '1s',
        grace: '1s',
        l1: { max: 10, maxSize: 1000, ttl: '1s' },
        timeouts: { l2: '50ms' },
        breaker: { failures: 3, cooldown: '1s' },
        xfetchBeta: 1,
        rebuild: { lockTtl: '1s', wait: '1s', onWaitTimeout: 'throw' },
        writes: { tombstoneTtl: '1m', doubleDelete: '1s' },
        maxStaleness: '1s',
        invalidations: { maxLength: 100, readCount: 10 },
        validate: () => true,
        clock: { now: () => 0 },
        random: () => 0.5,
        waitUntil: () => {},
        onEvent: () => {},
      }),
    ).not.toThrow()
  })

  it('a redis option that cannot reach Redis is refused with its name, before any request', () => {
    const cases: Array<[unknown, RegExp]> = [
      [
        { url: 'localhost:8079', token: 't' },
        /^Invalid option redis\.url: must be an http\(s\) REST URL, got "localhost:8079"$/,
      ],
      [
        { url: 'redis://127.0.0.1:7000', token: 't' },
        /^Invalid option redis\.url: .*got "redis:\/\/127\.0\.0\.1:7000"/,
      ],
      [
        { url: 'http://127.0.0.1:8079' },
        /^Invalid option redis\.token: must be a non-empty string, got undefined/,
      ],
      [{ url: 'http://127.0.0.1:8079', token: '' }, /^Invalid option redis\.token/],
      [
        { host: '127.0.0.1', port: 6379 },
        /^Invalid option redis: must be an @upstash\/redis client or \{ url, token \}, got object$/,
      ],
      [
        'http://127.0.0.1:8079',
        /^Invalid option redis: must be an @upstash\/redis client or \{ url, token \}, got "http:\/\/127\.0\.0\.1:8079"$/,
      ],
      [null, /^Invalid option redis: must be an @upstash\/redis client or \{ url, token \}, got null/],
    ]
    for (const [redis, message] of cases) {
      expect(() => createCache({ redis: redis as { url: string; token: string } })).toThrowError(message)
    }
  })
})

describe('fail open', () => {
  const explode = async (): Promise<never> => {
    throw new Error('tier 2 exploded')
  }
  const erroring: TierTwoStore = {
    getMany: explode,
    readOrLock: explode,
    fill: explode,
    unlock: explode,
    holdLock: explode,
    invalidate: explode,
    put: explode,
    notify: explode,
    readInvalidations: explode,
    tagVersions: explode,
  }

  it('a failing tier 2: the loader answers, L1 keeps the value, the error is counted and emitted, never thrown', async () => {
    const { cache, events } = setup({ redis: erroring })
    expect(await cache.getOrLoad('k', async () => 'from the loader')).toBe('from the loader')
    await cache.settled()
    expect(cache.peek('k')).toBe('from the loader')
    expect(cache.stats().l2Errors).toBe(1) // the read; a load that could not read tier 2 keeps its value in L1 only
    expect(
      events.filter((e) => e.type === 'l2Error').map((e) => (e as { operation: string }).operation),
    ).toEqual(['get'])
    await expect(cache.set('k2', 1)).resolves.toBeUndefined()
    await expect(cache.delete('k2')).resolves.toBeUndefined()
  })

  it('a tier 2 slower than its timeout is a miss, never a hang', async () => {
    const never = () => new Promise<never>(() => {})
    const hanging: TierTwoStore = {
      getMany: never,
      readOrLock: never,
      fill: never,
      unlock: never,
      holdLock: never,
      invalidate: never,
      put: never,
      notify: never,
      readInvalidations: never,
      tagVersions: never,
    }
    const { cache } = setup({ redis: hanging, timeouts: { l2: '20ms' } })
    const started = Date.now()
    expect(await cache.getOrLoad('k', async () => 'loaded')).toBe('loaded')
    expect(Date.now() - started).toBeLessThan(1000)
    expect(cache.stats().l2Errors).toBe(1)
  })

  it('a stopped proxy: the loader answers', async () => {
    const proxy = await startTestProxy({ mode: 'standalone', redis: 'redis://127.0.0.1:1' })
    const url = proxy.url
    await proxy.close('1s')
    const { cache } = setup({
      redis: new UpstashStore({ url, token: TOKENS.standard }),
      timeouts: { l2: '2s' },
    })
    expect(await cache.getOrLoad('k', async () => 'loaded anyway')).toBe('loaded anyway')
    expect(cache.stats().l2Errors).toBe(1)
  })

  it('values too large for the proxy are refused one by one, and do not open the circuit breaker', async () => {
    const proxy = await startTestProxy({ redis: inject('clusterUrl'), maxBodyBytes: 64 * 1024 })
    try {
      const store = new UpstashStore({ url: proxy.url, token: TOKENS.standard })
      const namespace = `refusals-${crypto.randomUUID()}`
      const { cache } = setup({
        redis: store,
        namespace,
        timeouts: { l2: '2s' },
        breaker: { failures: 3, cooldown: '1m' },
      })
      const big = 'x'.repeat(100 * 1024)
      // One batch of six such values: six refused fills in a row. They opened the breaker, and
      // every key then went without tier 2 for the cooldown.
      await cache.getMany(['a', 'b', 'c', 'd', 'e', 'f'], async (keys) => keys.map(() => big))
      await cache.settled()
      expect(cache.stats().l2Errors).toBe(6)
      expect(cache.stats().circuit).toBe('closed')
      await cache.getOrLoad('small', async () => 'fits')
      await cache.settled()
      expect(await store.getMany([`${namespace}:small`])).toEqual([expect.stringContaining('"fits"')])
    } finally {
      await proxy.close('1s')
    }
  })

  it('the circuit breaker stops calling a failing tier 2, then probes it after the cooldown', async () => {
    let calls = 0
    let healthy = false
    const call = async () => {
      calls++
      if (!healthy) throw new Error('down')
    }
    const flaky: TierTwoStore = {
      getMany: async (keys) => {
        await call()
        return keys.map(() => undefined)
      },
      readOrLock: async () => {
        await call()
        return { text: undefined, locked: true, fence: 0 }
      },
      fill: async () => {
        await call()
        return true
      },
      unlock: async () => {
        await call()
        return true
      },
      holdLock: async () => {
        await call()
        return true
      },
      invalidate: call,
      put: call,
      notify: async () => {
        await call()
        return []
      },
      // The stream reads answer (an empty stream): this test counts the reads and writes of entries.
      readInvalidations: async () => ({ cursor: '0-0', reset: false, entries: [] }),
      tagVersions: async (_sync, tags) => tags.map(() => 0),
    }
    const { cache, clock, events } = setup({ redis: flaky, breaker: { failures: 3, cooldown: '10s' } })
    const load = async (key: string) => {
      await cache.getOrLoad(key, async () => key)
      await cache.settled() // the background write has failed (or been skipped) before the next call
    }
    await load('k0') // read fails (1); the loaded value stays in L1 only
    await load('k1') // read fails (2)
    await load('k2') // read fails (3): open
    expect(calls).toBe(3)
    expect(cache.stats().circuit).toBe('open')
    for (let i = 3; i < 10; i++) await load(`k${i}`)
    expect(calls).toBe(3) // open: tier 2 left alone, the loaders answer
    clock.advance(10_001)
    await load('probe-1') // one probe, still failing: open again
    expect(calls).toBe(4)
    expect(cache.stats().circuit).toBe('open')
    clock.advance(10_001)
    healthy = true
    await load('probe-2') // the probe succeeds: closed, and the write goes out
    expect(calls).toBe(6)
    expect(cache.stats().circuit).toBe('closed')
    expect(events.filter((e) => e.type === 'circuit').map((e) => (e as { state: string }).state)).toEqual([
      'open',
      'half-open',
      'open',
      'half-open',
      'closed',
    ])
  })
})
