/**
 * `createEdgeCache` is `createCache` with the compact L1: the same behaviour through the cache's
 * API (the L1 stores themselves are compared in `l1-store.test.ts`).
 */
import { describe, expect, it } from 'vitest'
import { createCache } from '../../src/cache/create-cache.js'
import { createEdgeCache } from '../../src/cache/create-edge-cache.js'
import type { CacheEvent } from '../../src/cache/events.js'
import { MemoryStore } from '../../src/cache/memory-store.js'
import type { CacheOptions } from '../../src/cache/options.js'
import { InvalidOptionError } from '../../src/errors.js'
import { ManualClock, seededRandom } from '../helpers/clock.js'

describe.each([
  ['createCache', createCache],
  ['createEdgeCache', createEdgeCache],
] as const)('%s', (_name, create) => {
  function setup(l1?: CacheOptions['l1']) {
    const clock = new ManualClock()
    const events: CacheEvent[] = []
    const cache = create({
      redis: new MemoryStore(clock.now),
      maxStaleness: Number.POSITIVE_INFINITY,
      clock,
      random: seededRandom(),
      jitter: 0,
      ttl: '1m',
      onEvent: (e) => events.push(e),
      ...(l1 ? { l1 } : {}),
    })
    return { clock, cache, events }
  }

  it('serves L1 until its ttl, then tier 2; counts both', async () => {
    const { cache, clock } = setup({ ttl: '5s' })
    let loads = 0
    const load = async () => ++loads
    expect(await cache.getOrLoad('k', load)).toBe(1)
    await cache.settled()
    expect(cache.getFromL1('k')).toBe(1)
    clock.advance(5001)
    expect(cache.getFromL1('k')).toBeUndefined()
    expect(await cache.getOrLoad('k', load)).toBe(1) // from tier 2, still fresh there
    expect(loads).toBe(1)
    expect(cache.stats().hits).toEqual({ l1: 1, l2: 1 })
  })

  it('bounds L1 by entries and by bytes, with evict events', async () => {
    const { cache, events } = setup({ max: 3 })
    for (const k of ['a', 'b', 'c', 'd']) await cache.set(k, k)
    expect(cache.stats().l1.entries).toBe(3)
    expect(cache.peek('a')).toBeUndefined()
    expect(events).toContainEqual({ type: 'evict', key: 'a', reason: 'evict' })
    const small = setup({ maxSize: 200 }).cache
    for (let i = 0; i < 10; i++) await small.set(`k${i}`, 'x'.repeat(40))
    expect(small.stats().l1.bytes).toBeLessThanOrEqual(200)
    expect(small.stats().l1.entries).toBeLessThan(10)
  })

  it('delete and clear leave L1 too', async () => {
    const { cache } = setup()
    await cache.set('a', 1)
    await cache.delete('a')
    expect(cache.getFromL1('a')).toBeUndefined()
    const view = cache.namespace('n')
    await view.set('b', 2)
    await view.clear()
    expect(await view.get('b')).toBeUndefined()
  })

  it('names a bad option', () => {
    const redis = new MemoryStore()
    expect(() => create({ redis, l1: { max: 0 } })).toThrowError(InvalidOptionError)
    expect(() => create({ redis, l1: { max: 0 } })).toThrowError(/l1\.max/)
  })
})

describe('with no tier 2 given', () => {
  it('createCache keeps one in memory', async () => {
    const cache = createCache()
    expect(await cache.getOrLoad('q', async () => 'fine')).toBe('fine')
  })

  it('createEdgeCache refuses, saying what to pass (no store in memory is built into edge bundles)', () => {
    expect(() => createEdgeCache({} as never)).toThrowError(
      /^Invalid option redis: createEdgeCache needs a tier 2: \{ url, token \}, an @upstash\/redis client, or new MemoryStore\(\) \(tests, local runs\)$/,
    )
    // Bad options are still named first.
    expect(() => createEdgeCache({ l1: { max: 0 } } as never)).toThrowError(/^Invalid option l1\.max/)
    expect(() => createEdgeCache({ redis: new MemoryStore() })).not.toThrow()
  })
})
