/**
 * Per-call options and arguments of loads and writes, checked before anything is read, loaded
 * or written (in memory: nothing here reaches a tier 2).
 */
import { describe, expect, it } from 'vitest'
import { createCache } from '../../src/cache/create-cache.js'
import { MemoryStore } from '../../src/cache/memory-store.js'
import { checkWriteOptions } from '../../src/cache/write-options.js'
import { ManualClock } from '../helpers/clock.js'

describe('checkWriteOptions', () => {
  it('passes what the options allow', () => {
    for (const ok of [
      {},
      { ttl: '1m', nullTtl: 500, tags: ['a', 'b'] },
      { ttl: Number.POSITIVE_INFINITY, refresh: '30s' },
      { guard: { mightContain: () => true } },
    ])
      expect(() => checkWriteOptions(ok as never), JSON.stringify(ok)).not.toThrow()
  })

  it('names the first bad one', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ ttl: 0 }, /^Invalid option ttl: must be more than 0, got 0$/],
      [{ ttl: '0s' }, /^Invalid option ttl: must be more than 0, got "0s"$/],
      [{ ttl: 'soon' }, /^Invalid option ttl: must be a number of milliseconds/],
      [{ ttl: -5 }, /^Invalid option ttl: must be a non-negative finite number/],
      [
        { ttl: Number.POSITIVE_INFINITY },
        /^Invalid option refresh: a hot key \(ttl: Infinity\) needs a refresh interval$/,
      ],
      [{ ttl: Number.POSITIVE_INFINITY, refresh: 0 }, /^Invalid option refresh: must be more than 0/],
      [{ nullTtl: 0 }, /^Invalid option nullTtl: must be more than 0/],
      [{ tags: 'products' }, /^Invalid option tags: must be an array of tags, got "products"$/],
      [{ tags: ['ok', ''] }, /^Invalid option tags: must be non-empty strings, got ""$/],
      [{ tags: [7] }, /^Invalid option tags: must be non-empty strings, got 7$/],
      [{ guard: {} }, /^Invalid option guard: must be a guard from createGuard\(\)$/],
      [{ guard: null }, /^Invalid option guard/],
      [{ ttls: '1m' }, /^Invalid option ttls: is not an option/],
    ]
    for (const [options, message] of cases)
      expect(() => checkWriteOptions(options as never)).toThrowError(message)
  })
})

describe('the cache checks its arguments before loading or writing', () => {
  it('getOrLoad, getMany, set and write', async () => {
    const cache = createCache()
    let calls = 0
    const count = async () => ++calls
    await expect(cache.getOrLoad('a', 42 as never)).rejects.toThrowError(
      /^Invalid option loader: must be a function, got 42$/,
    )
    await expect(cache.getOrLoad('a', count, { ttl: 0 })).rejects.toThrowError(
      /^Invalid option ttl: must be more than 0/,
    )
    await expect(cache.getMany('a' as never, async () => [])).rejects.toThrowError(
      /^Invalid option keys: must be an array of keys, got "a"$/,
    )
    await expect(cache.getMany(['a'], 'load' as never)).rejects.toThrowError(
      /^Invalid option loadMany: must be a function/,
    )
    await expect(cache.set('a', 1, { tags: 'x' as never })).rejects.toThrowError(
      /^Invalid option tags: must be an array/,
    )
    await expect(cache.write('a', 5 as never)).rejects.toThrowError(
      /^Invalid option writer: must be a function, got 5$/,
    )
    await expect(cache.write('a', count, { tags: 'x' as never })).rejects.toThrowError(
      /^Invalid option tags: must be an array/,
    )
    expect(calls).toBe(0)
    expect(cache.peek('a')).toBeUndefined()
    // The same calls, done right.
    expect(await cache.getOrLoad('a', count, { ttl: '1m', tags: ['t'] })).toBe(1)
    expect(calls).toBe(1)
  })

  it('getOrLoad on an L1 entry that waits for a sync first checks too (it may load)', async () => {
    const clock = new ManualClock()
    const cache = createCache({ redis: new MemoryStore(clock.now), clock, maxStaleness: '1s' })
    await cache.set('b', 1)
    clock.advance(2000)
    let calls = 0
    await expect(
      cache.getOrLoad('b', async () => ++calls, { ttl: Number.POSITIVE_INFINITY }),
    ).rejects.toThrowError(/^Invalid option refresh: a hot key \(ttl: Infinity\) needs a refresh interval$/)
    expect(calls).toBe(0)
    // Without the mistake: the sync, then L1 answers (no load).
    expect(await cache.getOrLoad('b', async () => ++calls)).toBe(1)
  })
})
