/**
 * Delete-after-write with fenced fills: the source first, then tombstones with bumped fences, so a
 * reader that loaded before the write cannot put its old value back, whatever the timing.
 */
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest'
import { createCache } from '../../src/cache/create-cache.js'
import { MemoryStore } from '../../src/cache/memory-store.js'
import type { TierTwoStore } from '../../src/cache/store.js'
import { UpstashStore } from '../../src/cache/upstash-store.js'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { ManualClock, seededRandom } from '../helpers/clock.js'
import { heldLoader } from '../helpers/held-loader.js'
import { startTestProxy, TOKENS } from '../helpers/proxy.js'
import { switchable } from '../helpers/switchable-store.js'

/** A database row the tests read and write. */
function database(initial: string) {
  let row = initial
  return {
    read: () => row,
    write: (value: string) => {
      row = value
    },
  }
}

async function forcedRace(store: TierTwoStore, key: string, delays: () => number) {
  const reader = createCache({ redis: store, timeouts: { l2: '2s' } })
  const writer = createCache({ redis: store, timeouts: { l2: '2s' } })
  const db = database('old')
  // The reader misses and reads the old row; its loader is held before it returns.
  const { loader, started, release } = heldLoader(() => db.read())
  const reading = reader.getOrLoad(key, loader)
  await started
  await new Promise((r) => setTimeout(r, delays()))
  await writer.write(key, () => db.write('new')) // the write completes while the reader holds the old row
  await new Promise((r) => setTimeout(r, delays()))
  release()
  expect(await reading).toBe('old') // the reader's own read began before the write
  await reader.settled()
  expect(reader.stats().fillsRefused).toBe(1)
  // Every read that begins now sees the new value, on either instance.
  expect(await reader.getOrLoad(key, async () => db.read())).toBe('new')
  expect(await writer.getOrLoad(key, async () => db.read())).toBe('new')
}

describe('write', () => {
  it('runs the writer first; if it throws, the cache is left as it was', async () => {
    const cache = createCache()
    await cache.set('k', 'cached')
    await expect(
      cache.write('k', () => {
        throw new Error('constraint violated')
      }),
    ).rejects.toThrowError('constraint violated')
    expect(cache.peek('k')).toBe('cached')
    expect(await cache.get('k')).toBe('cached')
  })

  it('returns what the writer returned; the next read loads the new value', async () => {
    const cache = createCache()
    const db = database('v1')
    expect(await cache.getOrLoad('k', async () => db.read())).toBe('v1')
    await cache.settled()
    const done = await cache.write(['k'], () => {
      db.write('v2')
      return 'done'
    })
    expect(done).toBe('done')
    expect(cache.peek('k')).toBeUndefined()
    expect(await cache.getOrLoad('k', async () => db.read())).toBe('v2')
  })

  it('the race, forced: a slow reader cannot put the old value back (in-memory tier 2)', async () => {
    await forcedRace(new MemoryStore(), 'race', () => 0)
  })

  it('delete leaves a fenced tombstone too: a reader that loaded before it cannot fill its value back', async () => {
    const store = new MemoryStore()
    const reader = createCache({ redis: store })
    const other = createCache({ redis: store })
    const { loader, started, release } = heldLoader(() => 'before the delete')
    const reading = reader.getOrLoad('k', loader)
    await started
    await other.delete('k')
    release()
    await reading
    await reader.settled()
    expect(reader.stats().fillsRefused).toBe(1)
    expect(await other.get('k')).toBeUndefined()
  })

  it('a set() after a write is not overwritten by a reader that read before both', async () => {
    const store = new MemoryStore()
    const reader = createCache({ redis: store })
    const other = createCache({ redis: store })
    const { loader, started, release } = heldLoader(() => 'read before')
    const reading = reader.getOrLoad('k', loader)
    await started
    await other.write('k', () => {})
    await other.set('k', 'set after the write')
    release()
    await reading
    await reader.settled()
    expect(reader.stats().fillsRefused).toBe(1)
    expect(await createCache({ redis: store }).get('k')).toBe('set after the write')
  })

  it('getMany batch loads are fenced as well', async () => {
    const store = new MemoryStore()
    const reader = createCache({ redis: store })
    const writer = createCache({ redis: store })
    const db = database('old')
    const { loader, started, release } = heldLoader(() => [db.read()])
    const reading = reader.getMany(['a'], loader)
    await started
    await writer.write('a', () => db.write('new'))
    release()
    expect(await reading).toEqual(['old'])
    await reader.settled()
    expect(reader.stats().fillsRefused).toBe(1)
    expect(await reader.getMany(['a'], async () => [db.read()])).toEqual(['new'])
  })

  it('tier 2 down during a write: the write returns, L1 drops the key, the tombstone lands when tier 2 is back', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] })
    const clock = new ManualClock()
    const inner = new MemoryStore(clock.now)
    const tierTwo = switchable(inner)
    const store = tierTwo.store
    const events: string[] = []
    const cache = createCache({
      redis: store,
      clock,
      random: seededRandom(),
      onEvent: (e) => events.push(e.type),
      breaker: { failures: 100 },
    })
    await cache.set('k', 'old')
    tierTwo.down = true
    await cache.write('k', () => {})
    expect(cache.peek('k')).toBeUndefined()
    expect(cache.stats().pendingInvalidations).toBe(1)
    expect((await inner.getMany(['tc:k']))[0]).toContain('"old"') // not yet invalidated
    await vi.advanceTimersByTimeAsync(1000) // first retry: still down
    expect(cache.stats().pendingInvalidations).toBe(1)
    tierTwo.down = false
    await vi.advanceTimersByTimeAsync(5000) // second retry: lands
    expect(cache.stats().pendingInvalidations).toBe(0)
    expect((await inner.getMany(['tc:k']))[0]).toContain('"c":2') // set() wrote fence 1, the tombstone bumps it
    expect(events.filter((e) => e === 'invalidationRetry')).toHaveLength(2)
  })

  it('a bad doubleDelete is refused before the writer runs (after it, the source changed and the cache kept the old value)', async () => {
    const store = new MemoryStore()
    const cache = createCache({ redis: store })
    expect(await cache.getOrLoad('k', async () => 'old')).toBe('old')
    let wrote = false
    const writer = async () => {
      wrote = true
    }
    for (const bad of ['soon', '30d']) {
      await expect(cache.write('k', writer, { doubleDelete: bad as '1s' })).rejects.toThrowError(
        /^Invalid option doubleDelete: /,
      )
    }
    expect(wrote).toBe(false)
    // A timer cannot wait 30 days (it would fire at once): refused in the cache's options too.
    expect(() => createCache({ writes: { doubleDelete: '30d' } })).toThrowError(
      /^Invalid option writes\.doubleDelete: must be at most 2147483647 ms/,
    )
    expect(() => createCache({ timeouts: { l2: '30d' } })).toThrowError(
      /^Invalid option timeouts\.l2: must be at most 2147483647 ms \(24\.8 days, the longest a timer waits\), got 2592000000$/,
    )
  })

  it('doubleDelete invalidates a second time after the delay', async () => {
    const store = new MemoryStore()
    const cache = createCache({ redis: store })
    await cache.write('k', () => {}, { doubleDelete: '30ms' })
    expect((await store.getMany(['tc:k']))[0]).toContain('"c":1')
    await cache.settled()
    expect((await store.getMany(['tc:k']))[0]).toContain('"c":2')
  })
})

afterEach(() => {
  vi.useRealTimers()
})

describe('write on the real cluster through the proxy', () => {
  let proxy: RunningProxy
  beforeAll(async () => {
    proxy = await startTestProxy({ redis: inject('clusterUrl') })
  })
  afterAll(() => proxy.close('1s'))

  it('the race, forced, repeated with random delays: never an old value after the write', {
    timeout: 60_000,
  }, async () => {
    const random = seededRandom(11)
    for (let i = 0; i < 20; i++) {
      const store = new UpstashStore({ url: proxy.url, token: TOKENS.standard })
      await forcedRace(store, `race:${Date.now()}:${i}`, () => Math.floor(random() * 20))
    }
  })
})
