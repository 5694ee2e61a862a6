/**
 * Avalanche: keys written together must not expire together. 10,000 keys written at one instant
 * with ttl 60 s and jitter 0.1 must expire over 54–66 s, with no one-second window holding more
 * than twice the average. Time and randomness are injected: the clock is stepped, nothing sleeps.
 */
import { describe, expect, it } from 'vitest'
import { createCache } from '../../src/cache/create-cache.js'
import { jittered } from '../../src/cache/jitter.js'
import { MemoryStore } from '../../src/cache/memory-store.js'
import { ManualClock, seededRandom } from '../helpers/clock.js'

describe('TTL jitter', () => {
  it('spreads 10,000 expiries over 54–66 s, no second holding more than twice the average', async () => {
    const clock = new ManualClock()
    const store = new MemoryStore(clock.now)
    const cache = createCache({ redis: store, clock, random: seededRandom(7), ttl: '60s', jitter: 0.1 })
    const keys = Array.from({ length: 10_000 }, (_, i) => `k${i}`)
    for (const key of keys) await cache.set(key, 1)
    const fullKeys = keys.map((k) => `tc:${k}`)
    const start = clock.current
    const perSecond: number[] = []
    let alive = (await store.getMany(fullKeys)).filter(Boolean).length
    expect(alive).toBe(10_000)
    for (let second = 1; second <= 70; second++) {
      clock.current = start + second * 1000
      const now = (await store.getMany(fullKeys)).filter(Boolean).length
      perSecond.push(alive - now) // keys that expired during (second-1, second]
      alive = now
    }
    expect(alive).toBe(0)
    const firstExpiry = perSecond.findIndex((n) => n > 0) + 1
    const lastExpiry = perSecond.findLastIndex((n) => n > 0) + 1
    expect(firstExpiry).toBeGreaterThanOrEqual(54)
    expect(lastExpiry).toBeLessThanOrEqual(66)
    const average = 10_000 / 12 // spread over 12 seconds
    expect(Math.max(...perSecond)).toBeLessThanOrEqual(2 * average)
  })

  it('with jitter 0 every TTL is exact; null markers and L1 copies are jittered too', () => {
    const random = seededRandom(3)
    expect(jittered(60_000, 0, random)).toBe(60_000)
    const spread = Array.from({ length: 1000 }, () => jittered(30_000, 0.1, random))
    expect(Math.min(...spread)).toBeGreaterThanOrEqual(27_000)
    expect(Math.max(...spread)).toBeLessThanOrEqual(33_000)
    expect(new Set(spread).size).toBeGreaterThan(500)
  })
})
