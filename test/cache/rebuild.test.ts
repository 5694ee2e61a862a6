/**
 * Fleet-wide single flight, with two cache instances sharing one tier 2 (as two serverless
 * instances share Redis). The cross-process test with real OS processes and the real cluster is
 * in `stampede.test.ts`.
 */
import { describe, expect, it, vi } from 'vitest'
import { createCache } from '../../src/cache/create-cache.js'
import { MemoryStore } from '../../src/cache/memory-store.js'
import { RebuildTimeoutError, UnserializableValueError } from '../../src/errors.js'
import { ManualClock, seededRandom } from '../helpers/clock.js'

function twoInstances(options: Parameters<typeof createCache>[0] = {}) {
  const clock = new ManualClock()
  const store = new MemoryStore(clock.now)
  const make = () => createCache({ redis: store, clock, random: seededRandom(), ...options })
  return { clock, store, a: make(), b: make() }
}

describe('single flight across instances', () => {
  it('one load for two instances × 50 concurrent callers; the losers get the winner’s fill', async () => {
    const { a, b } = twoInstances()
    let release!: () => void
    const loader = vi.fn(async () => {
      await new Promise<void>((r) => (release = r))
      return { price: 42 }
    })
    const calls = [
      ...Array.from({ length: 50 }, () => a.getOrLoad('hot', loader)),
      ...Array.from({ length: 50 }, () => b.getOrLoad('hot', loader)),
    ]
    await vi.waitFor(() => expect(loader).toHaveBeenCalledTimes(1))
    await new Promise((r) => setTimeout(r, 30)) // the losing instance is polling by now
    release()
    expect(await Promise.all(calls)).toEqual(Array.from({ length: 100 }, () => ({ price: 42 })))
    expect(loader).toHaveBeenCalledTimes(1)
    const waited = a.stats().rebuildWaits + b.stats().rebuildWaits
    expect(waited).toBe(1) // the other instance's single flight waited once for all its callers
  })

  it('when the winner’s loader fails, a waiting instance takes over at once', async () => {
    const { a, b } = twoInstances()
    let fail!: (error: Error) => void
    const failing = a.getOrLoad('k', () => new Promise((_, reject) => (fail = reject)))
    await vi.waitFor(() => expect(fail).toBeTypeOf('function'))
    const waiting = b.getOrLoad('k', async () => 'from b')
    await new Promise((r) => setTimeout(r, 20))
    fail(new Error('db timeout'))
    await expect(failing).rejects.toThrowError(/db timeout/)
    expect(await waiting).toBe('from b')
  })

  it('a loaded value that cannot be cached (a Map) releases the rebuild lock: the next caller anywhere loads at once', async () => {
    const { a, b } = twoInstances({ rebuild: { wait: '2s', onWaitTimeout: 'throw' } })
    await expect(a.getOrLoad('k', async () => new Map([['x', 1]]))).rejects.toThrowError(
      UnserializableValueError,
    )
    await a.settled()
    // Before: the lock stayed until lockTtl, and every caller in the fleet waited out rebuild.wait.
    expect(await b.getOrLoad('k', async () => 'from b')).toBe('from b')
    expect(await a.getOrLoad('k', async () => 'unused')).toBe('from b')
    expect(b.stats().rebuildWaits).toBe(0)
  })

  it('past rebuild.wait: load anyway by default, or throw a typed error when asked', async () => {
    const hang = () => new Promise<string>(() => {})
    const loads = twoInstances({ rebuild: { wait: '50ms' } })
    void loads.a.getOrLoad('k', hang)
    await new Promise((r) => setTimeout(r, 5))
    expect(await loads.b.getOrLoad('k', async () => 'loaded anyway')).toBe('loaded anyway')
    expect(loads.b.stats().rebuildWaitTimeouts).toBe(1)

    const throws = twoInstances({ rebuild: { wait: '50ms', onWaitTimeout: 'throw' } })
    void throws.a.getOrLoad('k', hang)
    await new Promise((r) => setTimeout(r, 5))
    await expect(throws.b.getOrLoad('k', async () => 'never')).rejects.toThrowError(RebuildTimeoutError)
    await expect(throws.b.getOrLoad('k2', async () => 'fine')).resolves.toBe('fine')
  })

  it('a fill whose fence moved during the load is refused: the older value is not put back', async () => {
    const { a, store, clock } = twoInstances()
    const loader = async () => {
      // A writer invalidates the key while we load: its tombstone carries a bumped fence.
      await store.set('tc:k', `tc1:${JSON.stringify({ n: 1, f: clock.now() + 5000, d: 0, c: 1 })}`, 5000)
      return 'old value'
    }
    expect(await a.getOrLoad('k', loader)).toBe('old value')
    await a.settled()
    expect(a.stats().fillsRefused).toBe(1)
    expect((await store.getMany(['tc:k']))[0]).toContain('"c":1')
  })

  it('a stale value inside grace is served by everyone while exactly one instance refreshes it', async () => {
    const { a, b, clock } = twoInstances({ ttl: '10s', grace: '1m', jitter: 0 })
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    let version = 0
    const loader = vi.fn(async () => {
      if (version > 0) await gate // the refresh is slow: everyone reads while it runs
      return ++version
    })
    expect(await a.getOrLoad('k', loader)).toBe(1)
    await a.settled()
    clock.advance(20_000) // stale, inside grace
    const served = await Promise.all([
      a.getOrLoad('k', loader),
      b.getOrLoad('k', loader),
      b.getOrLoad('k', loader),
    ])
    expect(served).toEqual([1, 1, 1])
    expect(a.stats().staleServed + b.stats().staleServed).toBe(2) // one per instance (single flight inside each)
    release()
    await a.settled()
    await b.settled()
    expect(loader).toHaveBeenCalledTimes(2) // the first load and one refresh for the fleet
    clock.advance(11_000) // past the L1 copies: tier 2 now has the refreshed value
    expect(await b.getOrLoad('k', loader)).toBe(2)
  })
})
