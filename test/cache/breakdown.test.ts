/**
 * Breakdown (a hot key expiring under load): XFetch early refresh, stale-if-error, hot keys that
 * never leave tier 2. Clock and randomness are injected; nothing sleeps.
 */
import { describe, expect, it, vi } from 'vitest'
import { createCache } from '../../src/cache/create-cache.js'
import { MemoryStore } from '../../src/cache/memory-store.js'
import { InvalidOptionError } from '../../src/errors.js'
import { ManualClock } from '../helpers/clock.js'

function setup(options: Parameters<typeof createCache>[0] = {}) {
  const clock = new ManualClock()
  const store = new MemoryStore(clock.now)
  let r = 0.5
  const cache = createCache({ redis: store, clock, random: () => r, jitter: 0, ...options })
  return { clock, store, cache, setRandom: (value: number) => (r = value) }
}

describe('XFetch early refresh', () => {
  it('refreshes a fresh value early when now − δ·β·ln(rand) ≥ freshUntil, and not before', async () => {
    const { cache, clock } = setup({ ttl: '60s', l1: { ttl: '1s' } })
    let version = 0
    const loader = vi.fn(async () => {
      clock.advance(1000) // the load takes δ = 1 s
      return ++version
    })
    expect(await cache.getOrLoad('k', loader)).toBe(1)
    await cache.settled()
    // rand 0.5: −ln(0.5) ≈ 0.69, so with δ = 1 s and β = 1 the refresh starts in the last ~693 ms.
    clock.advance(60_000 - 2000) // 2 s left: too early
    expect(await cache.getOrLoad('k', loader)).toBe(1)
    await cache.settled()
    expect(loader).toHaveBeenCalledTimes(1)
    clock.advance(1500) // 500 ms left (and past the L1 copy): refresh early, still answering 1
    expect(await cache.getOrLoad('k', loader)).toBe(1)
    await cache.settled()
    expect(loader).toHaveBeenCalledTimes(2)
    expect(cache.stats().earlyRefreshes).toBe(1)
    clock.advance(1100) // past the old expiry: the refreshed value is there, no miss, no wait
    expect(await cache.getOrLoad('k', loader)).toBe(2)
    expect(cache.stats().misses).toBe(1)
  })

  it('β = 0 turns it off', async () => {
    const { cache, clock } = setup({ ttl: '60s', l1: { ttl: '1s' }, xfetchBeta: 0 })
    const loader = vi.fn(async () => {
      clock.advance(1000)
      return 'v'
    })
    await cache.getOrLoad('k', loader)
    await cache.settled()
    clock.advance(59_500)
    await cache.getOrLoad('k', loader)
    await cache.settled()
    expect(loader).toHaveBeenCalledTimes(1)
    expect(() => createCache({ xfetchBeta: -1 })).toThrowError(/Invalid option xfetchBeta/)
  })
})

describe('stale-if-error', () => {
  it('a failing refresh keeps the stale value served, and is not retried before the lock expires', async () => {
    const { cache, clock } = setup({
      ttl: '10s',
      grace: '5m',
      rebuild: { lockTtl: '30s' },
      l1: { ttl: '1s' },
    })
    let healthy = true
    const loader = vi.fn(async () => {
      if (!healthy) throw new Error('database down')
      return 'value'
    })
    expect(await cache.getOrLoad('k', loader)).toBe('value')
    await cache.settled()
    healthy = false
    clock.advance(15_000) // stale, inside grace
    expect(await cache.getOrLoad('k', loader)).toBe('value')
    await cache.settled()
    expect(loader).toHaveBeenCalledTimes(2)
    expect(cache.stats().refreshErrors).toBe(1)
    for (let i = 0; i < 5; i++) {
      clock.advance(2000)
      expect(await cache.getOrLoad('k', loader)).toBe('value') // served stale, source left alone
      await cache.settled()
    }
    expect(loader).toHaveBeenCalledTimes(2)
    healthy = true
    clock.advance(25_000) // the failed refresh's lock has expired: try again
    expect(await cache.getOrLoad('k', loader)).toBe('value')
    await cache.settled()
    expect(loader).toHaveBeenCalledTimes(3)
  })
})

describe('stale-if-error backoff', () => {
  it('each consecutive failure holds the source back twice as long, up to the end of grace', async () => {
    const { cache, clock } = setup({
      ttl: '10s',
      grace: '10m',
      rebuild: { lockTtl: '10s' },
      l1: { ttl: '1s' },
    })
    let healthy = true
    const loader = vi.fn(async () => {
      if (!healthy) throw new Error('database down')
      return 'value'
    })
    await cache.getOrLoad('k', loader)
    await cache.settled()
    healthy = false
    const read = async () => {
      expect(await cache.getOrLoad('k', loader)).toBe('value')
      await cache.settled()
    }
    clock.advance(11_000)
    await read() // failure 1: held 10 s
    expect(loader).toHaveBeenCalledTimes(2)
    clock.advance(10_001)
    await read() // failure 2: held 20 s
    expect(loader).toHaveBeenCalledTimes(3)
    clock.advance(15_000)
    await read() // 15 s later: still held
    expect(loader).toHaveBeenCalledTimes(3)
    clock.advance(5_001)
    await read() // 20 s after failure 2: retried (failure 3: held 40 s)
    expect(loader).toHaveBeenCalledTimes(4)
    clock.advance(30_000)
    await read()
    expect(loader).toHaveBeenCalledTimes(4)
    healthy = true
    clock.advance(10_001)
    await read() // 40 s after failure 3: retried, and it works
    expect(loader).toHaveBeenCalledTimes(5)
    expect(cache.stats().refreshErrors).toBe(3)
  })
})

describe('hot keys', () => {
  it('ttl: Infinity never leaves tier 2 and is refreshed in place every `refresh`', async () => {
    const { cache, clock, store } = setup({ l1: { ttl: '1s' } })
    let version = 0
    const loader = vi.fn(async () => ++version)
    expect(await cache.getOrLoad('config', loader, { ttl: Number.POSITIVE_INFINITY, refresh: '1m' })).toBe(1)
    await cache.settled()
    clock.advance(24 * 3_600_000) // a day later: still there, served at once, refreshed behind
    expect(await store.getMany(['tc:config'])).toEqual([expect.stringContaining('"h":1')])
    expect(await cache.getOrLoad('config', loader, { ttl: Number.POSITIVE_INFINITY, refresh: '1m' })).toBe(1)
    await cache.settled()
    clock.advance(2000)
    expect(await cache.getOrLoad('config', loader, { ttl: Number.POSITIVE_INFINITY, refresh: '1m' })).toBe(2)
    expect(cache.stats().misses).toBe(1)
  })

  it('a hot key needs a refresh interval', async () => {
    const { cache } = setup()
    await expect(cache.getOrLoad('k', async () => 1, { ttl: Number.POSITIVE_INFINITY })).rejects.toThrowError(
      InvalidOptionError,
    )
  })
})
