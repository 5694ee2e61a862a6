/**
 * `getOrLoad(key, loader, { forceFresh: true })`: the loader runs though L1 and tier 2 hold a
 * value, once per key per process, and its fill is fenced like a miss's, so a write that lands
 * while it loads wins. Each case runs on the in-memory tier 2 and on the real cluster through the
 * proxy.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createCache } from '../../src/cache/create-cache.js'
import { MemoryStore } from '../../src/cache/memory-store.js'
import type { TierTwoStore } from '../../src/cache/store.js'
import { UpstashStore } from '../../src/cache/upstash-store.js'
import { InvalidOptionError } from '../../src/errors.js'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { ManualClock } from '../helpers/clock.js'
import { heldLoader } from '../helpers/held-loader.js'
import { startTestProxy, TOKENS } from '../helpers/proxy.js'

const never = (): string => {
  throw new Error('the loader must not run')
}

let proxy: RunningProxy
beforeAll(async () => {
  proxy = await startTestProxy({ redis: inject('clusterUrl') })
})
afterAll(() => proxy.close('1s'))

const stores: Array<[string, () => TierTwoStore]> = [
  ['in-memory tier 2', () => new MemoryStore()],
  ['the real cluster through the proxy', () => new UpstashStore({ url: proxy.url, token: TOKENS.standard })],
]
let n = 0
/** A key no earlier run of these tests wrote (the cluster outlives a run). */
const fresh = (name: string) => `force-fresh:${name}:${Date.now()}:${n++}`

describe.each(stores)('forceFresh on %s', (_name, makeStore) => {
  it('loads though L1 and tier 2 hold a fresh value; what it loaded is then served here and on another instance', async () => {
    const store = makeStore()
    const key = fresh('loads')
    const cache = createCache({ redis: store, timeouts: { l2: '2s' } })
    expect(await cache.getOrLoad(key, () => 'v1')).toBe('v1')
    await cache.settled()
    expect(await cache.getOrLoad(key, never)).toBe('v1') // fresh in L1
    expect(await cache.getOrLoad(key, () => 'v2', { forceFresh: true })).toBe('v2')
    await cache.settled()
    expect(await cache.getOrLoad(key, never)).toBe('v2')
    const other = createCache({ redis: store, timeouts: { l2: '2s' } })
    expect(await other.getOrLoad(key, never)).toBe('v2') // from tier 2
    expect(cache.stats()).toMatchObject({ loads: 2, misses: 2 })
    // `false` is the plain read.
    expect(await cache.getOrLoad(key, never, { forceFresh: false })).toBe('v2')
  })

  it('concurrent forced loads of a key run the loader once; a plain miss meanwhile joins them', async () => {
    const cache = createCache({ redis: makeStore(), timeouts: { l2: '2s' } })
    const key = fresh('once')
    const { loader, started, release, calls } = heldLoader(() => 'loaded once')
    const forced = Array.from({ length: 50 }, () => cache.getOrLoad(key, loader, { forceFresh: true }))
    await started
    const plain = cache.getOrLoad(key, loader)
    release()
    expect(new Set(await Promise.all([...forced, plain]))).toEqual(new Set(['loaded once']))
    expect(calls()).toBe(1)
  })

  it('a write that lands while a forced load runs wins: the value it read is not put back', async () => {
    const store = makeStore()
    const key = fresh('race')
    const clock = new ManualClock(Date.now())
    const instance = () => createCache({ redis: store, clock, maxStaleness: '1s', timeouts: { l2: '2s' } })
    const [reader, writer] = [instance(), instance()]
    let row = 'v1'
    const primer = instance()
    expect(await primer.getOrLoad(key, () => row)).toBe('v1')
    await primer.settled() // fresh in tier 2, and its rebuild lock released
    const { loader, started, release } = heldLoader(() => row)
    const forcing = reader.getOrLoad(key, loader, { forceFresh: true })
    await started // it read v1
    await writer.write(key, () => {
      row = 'v2'
    })
    release()
    expect(await forcing).toBe('v1') // its own read began before the write
    await reader.settled()
    expect(reader.stats().fillsRefused).toBe(1)
    expect(await reader.getOrLoad(key, () => row)).toBe('v2')
    expect(await instance().getOrLoad(key, never)).toBe('v2')
  })

  it('a tag invalidated while a forced load runs makes what it loaded old, on every instance', async () => {
    const store = makeStore()
    const key = fresh('tags')
    const tag = fresh('tag')
    const clock = new ManualClock(Date.now())
    const instance = () => createCache({ redis: store, clock, maxStaleness: '1s', timeouts: { l2: '2s' } })
    const [reader, writer] = [instance(), instance()]
    let row = 'v1'
    expect(await reader.getOrLoad(key, () => row, { tags: [tag] })).toBe('v1')
    const { loader, started, release } = heldLoader(() => row)
    const forcing = reader.getOrLoad(key, loader, { forceFresh: true, tags: [tag] })
    await started
    row = 'v2'
    await writer.invalidateTags(tag)
    release()
    expect(await forcing).toBe('v1')
    await reader.settled()
    expect(await instance().getOrLoad(key, () => row, { tags: [tag] })).toBe('v2')
    // The reader hears of the invalidation by its next stream read (within maxStaleness).
    clock.advance(1001)
    expect(await reader.getOrLoad(key, () => row, { tags: [tag] })).toBe('v2')
  })

  it("another instance holds the key's rebuild lock: the forced load answers at once, into its own L1; the holder's fill lands", async () => {
    const store = makeStore()
    const key = fresh('locked')
    const holder = createCache({ redis: store, timeouts: { l2: '2s' } })
    const held = heldLoader(() => 'the holder')
    const holding = holder.getOrLoad(key, held.loader) // a miss: it takes the lock
    await held.started
    const forcer = createCache({ redis: store, timeouts: { l2: '2s' } })
    expect(await forcer.getOrLoad(key, () => 'forced', { forceFresh: true })).toBe('forced')
    await forcer.settled()
    expect(forcer.peek(key)).toBe('forced')
    held.release()
    expect(await holding).toBe('the holder')
    await holder.settled()
    expect(holder.stats().fillsRefused).toBe(0)
    expect(await createCache({ redis: store }).get(key)).toBe('the holder')
  })
})

describe('forceFresh, bad input', () => {
  it('a forceFresh that is not a boolean is refused by name; set and getMany refuse it (they have nothing to skip)', async () => {
    const cache = createCache()
    await cache.set('k', 'cached')
    // (A falsy one on an L1 hit is not looked at: options are checked off the hit path.)
    for (const bad of ['yes', 1]) {
      await expect(
        cache.getOrLoad('k', never, { forceFresh: bad as unknown as boolean }),
      ).rejects.toMatchObject({ name: InvalidOptionError.name, option: 'forceFresh' })
    }
    const asWriteOption = { forceFresh: true } as Record<string, unknown>
    await expect(cache.set('k', 'v', asWriteOption)).rejects.toMatchObject({ option: 'forceFresh' })
    await expect(cache.getMany(['k'], () => ['v'], asWriteOption)).rejects.toMatchObject({
      option: 'forceFresh',
    })
    expect(cache.peek('k')).toBe('cached')
  })
})
