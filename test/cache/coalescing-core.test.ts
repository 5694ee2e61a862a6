/**
 * Invalidations tier 2 did not take, as `createCache` owes them: once per key and tag, retried in
 * batches by one timer (`src/cache/coalescing-core.ts`). The edge cache keeps a retry per write.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { RETRY_BATCH } from '../../src/cache/coalescing-core.js'
import { createCache } from '../../src/cache/create-cache.js'
import { createEdgeCache } from '../../src/cache/create-edge-cache.js'
import { MemoryStore } from '../../src/cache/memory-store.js'
import { ManualClock, seededRandom } from '../helpers/clock.js'
import { switchable } from '../helpers/switchable-store.js'

afterEach(() => {
  vi.useRealTimers()
})

/** A memory store behind a switch, counting the keys each `invalidate` call tombstones. */
function countedStore(clock: ManualClock) {
  const inner = new MemoryStore(clock.now)
  const batches: string[][] = []
  const invalidate = inner.invalidate.bind(inner)
  inner.invalidate = async (keys, ttlMs) => {
    batches.push([...keys])
    await invalidate(keys, ttlMs)
  }
  return { inner, batches, tierTwo: switchable(inner) }
}

describe('owed invalidations (createCache)', () => {
  it('writes during an outage are owed once per key and tag, and land in batches when tier 2 is back', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const clock = new ManualClock()
    const { inner, batches, tierTwo } = countedStore(clock)
    const events: Array<{ attempt: number; succeeded: boolean }> = []
    const cache = createCache({
      redis: tierTwo.store,
      clock,
      random: seededRandom(),
      breaker: { failures: 1_000_000 },
      onEvent: (e) => {
        if (e.type === 'invalidationRetry') events.push({ attempt: e.attempt, succeeded: e.succeeded })
      },
    })
    const keys = Array.from({ length: 1200 }, (_, i) => `k${i}`)
    for (const key of keys) await cache.set(key, 'old')
    batches.length = 0
    tierTwo.down = true
    for (let round = 0; round < 3; round++) for (const key of keys) await cache.write(key, () => {})
    await cache.invalidateTags('products')
    // 3,601 failed invalidations, owed as 1,200 keys and one tag (before: 3,601 timers).
    expect(cache.stats().pendingInvalidations).toBe(1201)

    await vi.advanceTimersByTimeAsync(1000) // the first retry: still down
    expect(events).toEqual([{ attempt: 1, succeeded: false }])
    expect(cache.stats().pendingInvalidations).toBe(1201)

    tierTwo.down = false
    await vi.advanceTimersByTimeAsync(5000) // the second retry lands
    await vi.advanceTimersByTimeAsync(10) // and the next batches follow at once
    expect(cache.stats().pendingInvalidations).toBe(0)
    expect(batches.map((b) => b.length)).toEqual([RETRY_BATCH, RETRY_BATCH, 1200 - 2 * RETRY_BATCH])
    expect(new Set(batches.flat()).size).toBe(1200) // each key tombstoned once
    expect(events.slice(1)).toEqual([
      { attempt: 2, succeeded: true },
      { attempt: 1, succeeded: true },
      { attempt: 1, succeeded: true },
    ])
    const stored = await inner.getMany(keys.map((k) => `tc:${k}`))
    expect(stored.every((text) => text?.includes('"n":1'))).toBe(true) // all tombstones
    await vi.advanceTimersByTimeAsync(60_000)
    expect(batches).toHaveLength(3) // nothing more goes out
  })

  it('a key owed again while its retry is in flight stays owed, and is retried after it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const clock = new ManualClock()
    const { inner, batches, tierTwo } = countedStore(clock)
    let release: (() => void) | undefined
    const invalidate = inner.invalidate.bind(inner)
    inner.invalidate = async (keys, ttlMs) => {
      if (release === undefined) {
        await new Promise<void>((resolve) => {
          release = resolve
        })
      }
      await invalidate(keys, ttlMs)
    }
    const cache = createCache({
      redis: tierTwo.store,
      clock,
      random: seededRandom(),
      breaker: { failures: 1_000_000 },
      timeouts: { l2: '1h' },
    })
    tierTwo.down = true
    await cache.write('a', () => {})
    tierTwo.down = false
    await vi.advanceTimersByTimeAsync(1000) // the retry takes 'a' and waits in tier 2
    expect(release).toBeDefined()
    expect(cache.stats().pendingInvalidations).toBe(0)
    tierTwo.down = true
    await cache.write('a', () => {}) // the source changed again; its invalidation fails
    expect(cache.stats().pendingInvalidations).toBe(1)
    tierTwo.down = false
    release!()
    await vi.advanceTimersByTimeAsync(0) // the retry in flight lands; the next one goes at once
    expect(cache.stats().pendingInvalidations).toBe(0)
    expect(batches).toEqual([['tc:a'], ['tc:a']])
  })
})

describe('owed invalidations (createEdgeCache)', () => {
  it('keeps one retry per failed invalidation (its bundle stays small; an isolate lives briefly)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const clock = new ManualClock()
    const { batches, tierTwo } = countedStore(clock)
    const cache = createEdgeCache({
      redis: tierTwo.store,
      clock,
      random: seededRandom(),
      breaker: { failures: 1_000_000 },
    })
    tierTwo.down = true
    await cache.write('a', () => {})
    await cache.write('a', () => {})
    expect(cache.stats().pendingInvalidations).toBe(2)
    tierTwo.down = false
    await vi.advanceTimersByTimeAsync(1000)
    expect(cache.stats().pendingInvalidations).toBe(0)
    expect(batches).toEqual([['tc:a'], ['tc:a']])
  })
})
