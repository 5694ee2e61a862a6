/**
 * Cross-instance L1 coherence: separate cache objects (each with its own L1) sharing one tier 2,
 * first the in-memory store with an injected clock (no sleeping), then the real cluster through
 * the proxy. The bound under test: an L1 hit is never older than `maxStaleness` relative to a
 * write that completed before the read began.
 */
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest'
import { createCache } from '../../src/cache/create-cache.js'
import { MemoryStore } from '../../src/cache/memory-store.js'
import type { CacheOptions } from '../../src/cache/options.js'
import type { ReadOrLock, TierTwoStore } from '../../src/cache/store.js'
import { syncKeys } from '../../src/cache/sync-scripts.js'
import { UpstashStore } from '../../src/cache/upstash-store.js'
import { InvalidOptionError } from '../../src/errors.js'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { ManualClock, seededRandom } from '../helpers/clock.js'
import { startTestProxy, TOKENS } from '../helpers/proxy.js'
import { type SwitchableStore, switchable } from '../helpers/switchable-store.js'

/** `n` instances over one tier 2, with long TTLs: only the stream can make L1 drop anything. */
function fleet(n: number, store: (clock: ManualClock) => TierTwoStore, options: CacheOptions = {}) {
  const clock = new ManualClock()
  const shared = store(clock)
  const caches = Array.from({ length: n }, (_, i) =>
    createCache({
      redis: shared,
      clock,
      random: seededRandom(i + 1),
      ttl: '1h',
      l1: { ttl: '1h' },
      timeouts: { l2: '2s' },
      ...options,
    }),
  )
  return { clock, store: shared, caches }
}

/** A source of truth whose rows count their reads. */
function database() {
  const rows = new Map<string, string>()
  const reads = new Map<string, number>()
  return {
    rows,
    reads,
    load: async (key: string) => {
      reads.set(key, (reads.get(key) ?? 0) + 1)
      return rows.get(key) ?? null
    },
  }
}

const memory = (clock: ManualClock) => new MemoryStore(clock.now)

describe('L1 coherence (in-memory tier 2, injected clock)', () => {
  it('after a write on one instance, another serves the new value once maxStaleness has passed, and L1 until then', async () => {
    const { clock, caches } = fleet(2, memory)
    const [a, b] = caches as [ReturnType<typeof createCache>, ReturnType<typeof createCache>]
    const db = database()
    db.rows.set('k', 'v1')
    expect(await b.getOrLoad('k', db.load)).toBe('v1')
    await b.settled()
    expect(await b.getOrLoad('k', db.load)).toBe('v1')
    expect(b.stats().hits.l1).toBe(1)
    await a.write('k', () => db.rows.set('k', 'v2'))
    // Inside the bound, b may serve its L1 copy: it does, with no tier-2 call.
    const reads = b.stats().sync.reads
    expect(await b.getOrLoad('k', db.load)).toBe('v1')
    expect(b.stats().sync.reads).toBe(reads)
    clock.advance(1001)
    expect(await b.getOrLoad('k', db.load)).toBe('v2')
    expect(b.stats().sync.dropped).toBe(1)
    // And a set() on one instance reaches the other's L1 the same way.
    await a.set('k', 'v3')
    clock.advance(1001)
    expect(await b.get('k')).toBe('v3')
  })

  it('the sync costs at most one stream read per maxStaleness, whatever the request rate', async () => {
    const { clock, caches } = fleet(1, memory, { maxStaleness: '1s' })
    const cache = caches[0]!
    await cache.getOrLoad('k', async () => 'v')
    await cache.settled()
    const before = cache.stats().sync.reads
    for (let i = 0; i < 10_000; i++) {
      clock.advance(1) // 10,000 hits over 10 s
      await cache.getOrLoad('k', async () => 'never')
    }
    expect(cache.stats().hits.l1).toBe(10_000)
    const reads = cache.stats().sync.reads - before
    expect(reads).toBeGreaterThanOrEqual(9)
    expect(reads).toBeLessThanOrEqual(11)
  })

  it('maxStaleness 0: every read checks tier 2, so a completed write is seen at once', async () => {
    const { caches } = fleet(2, memory, { maxStaleness: 0 })
    const [a, b] = caches as [ReturnType<typeof createCache>, ReturnType<typeof createCache>]
    const db = database()
    db.rows.set('k', 'v1')
    expect(await b.getOrLoad('k', db.load)).toBe('v1')
    await b.settled()
    await a.write('k', () => db.rows.set('k', 'v2'))
    expect(await b.getOrLoad('k', db.load)).toBe('v2')
    expect(b.peek('k')).toBeUndefined() // peek cannot vouch for L1 without a sync
    expect(b.getFromL1('k')).toBeUndefined() // nor can getFromL1
  })

  it('invalidateTags: tagged entries stop being served on every instance, from L1 and from tier 2', async () => {
    const { clock, caches } = fleet(3, memory)
    const [a, b, fresh] = caches as Array<ReturnType<typeof createCache>>
    const db = database()
    db.rows.set('p:1', 'shoe')
    db.rows.set('p:2', 'hat')
    db.rows.set('u:1', 'ada')
    for (const key of ['p:1', 'p:2']) await b!.getOrLoad(key, db.load, { tags: ['products'] })
    await b!.getOrLoad('u:1', db.load, { tags: ['users'] })
    await b!.settled()
    db.rows.set('p:1', 'boot')
    db.rows.set('p:2', 'cap')
    await a!.invalidateTags('products')
    clock.advance(1001)
    expect(await b!.getOrLoad('p:1', db.load, { tags: ['products'] })).toBe('boot')
    expect(await b!.getOrLoad('p:2', db.load, { tags: ['products'] })).toBe('cap')
    expect(await b!.getOrLoad('u:1', db.load, { tags: ['users'] })).toBe('ada') // another tag: untouched
    expect(db.reads.get('u:1')).toBe(1)
    // An instance that never saw the entries reads them from tier 2: the versions are checked there too.
    db.rows.set('p:1', 'sandal')
    await a!.invalidateTags(['products'])
    expect(await fresh!.get('p:1')).toBeUndefined()
    expect(await fresh!.getOrLoad('p:1', db.load, { tags: ['products'] })).toBe('sandal')
    // write() with tags bumps them as well.
    await b!.settled()
    await fresh!.settled()
    await a!.write([], () => db.rows.set('p:2', 'beret'), { tags: ['products'] })
    clock.advance(1001)
    expect(await b!.getOrLoad('p:2', db.load, { tags: ['products'] })).toBe('beret')
    await expect(a!.invalidateTags([''])).rejects.toThrowError(InvalidOptionError)
  })

  it('namespace clear(): by a version, nested namespaces included, other namespaces untouched', async () => {
    const { clock, caches } = fleet(2, memory)
    const [a, b] = caches as [ReturnType<typeof createCache>, ReturnType<typeof createCache>]
    const db = database()
    for (const [key, value] of [
      ['users:1', 'ada'],
      ['users:admins:1', 'root'],
      ['orders:9', 'book'],
    ] as const)
      db.rows.set(key, value)
    const users = b.namespace('users')
    const load = (prefix: string) => (key: string) => db.load(prefix + key)
    expect(await users.getOrLoad('1', load('users:'))).toBe('ada')
    expect(await users.namespace('admins').getOrLoad('1', load('users:admins:'))).toBe('root')
    expect(await b.namespace('orders').getOrLoad('9', load('orders:'))).toBe('book')
    await b.settled()
    db.rows.set('users:1', 'grace')
    db.rows.set('users:admins:1', 'admin')
    await a.namespace('users').clear()
    clock.advance(1001)
    expect(await users.getOrLoad('1', load('users:'))).toBe('grace')
    expect(await users.namespace('admins').getOrLoad('1', load('users:admins:'))).toBe('admin')
    expect(await b.namespace('orders').getOrLoad('9', load('orders:'))).toBe('book')
    expect(db.reads.get('orders:9')).toBe(1)
    await expect(a.clear()).rejects.toThrowError(/namespace/)
  })

  it('a cursor the trimmed stream left behind clears L1 (and the instance reloads)', async () => {
    const { clock, caches } = fleet(2, memory, { invalidations: { maxLength: 10 } })
    const [a, b] = caches as [ReturnType<typeof createCache>, ReturnType<typeof createCache>]
    const db = database()
    db.rows.set('k', 'v1')
    await b.getOrLoad('k', db.load)
    await b.settled()
    for (let i = 0; i < 30; i++) await a.write(`other${i}`, () => {})
    clock.advance(1001)
    expect(await b.getOrLoad('k', db.load)).toBe('v1')
    expect(b.stats().sync.resets).toBe(1)
    expect(b.stats().hits.l2).toBe(1) // L1 was cleared: k came from tier 2 again
  })

  it('a tier-2 read that a sync overtook does not put its value in L1', async () => {
    // The read of k is held after tier 2 answered (with the old value); meanwhile k is written on
    // another instance and this instance syncs. The old value is the held read's answer (that read
    // began before the write), but it must not stay in L1 for later reads.
    let hold: Promise<void> | undefined
    class HoldingStore extends MemoryStore {
      override async readOrLock(
        key: string,
        token: string,
        ttl: number,
        now: number,
        tags?: Record<string, number>,
      ): Promise<ReadOrLock> {
        const seen = await super.readOrLock(key, token, ttl, now, tags)
        if (key === 'tc:k' && hold) await hold
        return seen
      }
    }
    const { clock, caches } = fleet(2, (c) => new HoldingStore(c.now))
    const [a, b] = caches as [ReturnType<typeof createCache>, ReturnType<typeof createCache>]
    const db = database()
    db.rows.set('k', 'v1')
    await a.getOrLoad('k', db.load) // k is in tier 2
    await a.settled()
    await b.getOrLoad('other', async () => 'x') // b has its cursor
    await b.settled()
    let release!: () => void
    hold = new Promise<void>((r) => (release = r))
    const reading = b.getOrLoad('k', db.load)
    await new Promise((r) => setTimeout(r, 5))
    await a.write('k', () => db.rows.set('k', 'v2'))
    clock.advance(1001)
    expect(await b.getOrLoad('other', async () => 'x')).toBe('x') // this hit syncs, dropping k
    hold = undefined
    release()
    expect(await reading).toBe('v1')
    expect(b.peek('k')).toBeUndefined()
    expect(await b.getOrLoad('k', db.load)).toBe('v2')
  })

  it('tier 2 down during a write: the write returns, and the invalidation reaches other instances once it is back', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] })
    let tierTwo: SwitchableStore<MemoryStore> | undefined
    const flaky = (clock: ManualClock) => {
      tierTwo = switchable(new MemoryStore(clock.now))
      return tierTwo.store
    }
    const { clock, caches } = fleet(2, flaky, { breaker: { failures: 100 } })
    const [a, b] = caches as [ReturnType<typeof createCache>, ReturnType<typeof createCache>]
    const db = database()
    db.rows.set('k', 'v1')
    expect(await b.getOrLoad('k', db.load)).toBe('v1')
    await b.settled()
    tierTwo!.down = true
    await a.write('k', () => db.rows.set('k', 'v2'))
    expect(a.stats().pendingInvalidations).toBe(1)
    tierTwo!.down = false
    await vi.advanceTimersByTimeAsync(1000) // the retry lands
    expect(a.stats().pendingInvalidations).toBe(0)
    clock.advance(1001)
    expect(await b.getOrLoad('k', db.load)).toBe('v2')
  })
})

afterEach(() => {
  vi.useRealTimers()
})

describe('L1 coherence on the real cluster through the proxy', () => {
  let proxy: RunningProxy
  beforeAll(async () => {
    proxy = await startTestProxy({ redis: inject('clusterUrl') })
  })
  afterAll(() => proxy.close('1s'))

  it('three instances, each its own client and L1: a write on one is served by the others after maxStaleness', async () => {
    const namespace = `coh-${Date.now()}`
    const { clock, caches } = fleet(3, () => new UpstashStore({ url: proxy.url, token: TOKENS.standard }), {
      namespace,
    })
    // fleet() shares one store; give each instance its own client, as separate machines have.
    const instances = [
      caches[0]!,
      ...[1, 2].map((i) =>
        createCache({
          redis: new UpstashStore({ url: proxy.url, token: TOKENS.standard }),
          namespace,
          clock,
          random: seededRandom(i + 10),
          ttl: '1h',
          l1: { ttl: '1h' },
          timeouts: { l2: '2s' },
        }),
      ),
    ]
    const db = database()
    db.rows.set('k', 'v1')
    for (const cache of instances) {
      expect(await cache.getOrLoad('k', db.load, { tags: ['t'] })).toBe('v1')
      await cache.settled()
    }
    const tagged = { tags: ['t'] }
    for (const cache of instances) expect(await cache.getOrLoad('k', db.load, tagged)).toBe('v1')
    for (const cache of instances) expect(await cache.getOrLoad('k', db.load, tagged)).toBe('v1')
    expect(db.reads.get('k')).toBe(1) // one load for the fleet; the rest from tier 2, then L1
    // A new instance keeps nothing in L1 that it read before it had its cursor (its first read).
    expect(instances.map((c) => c.stats().hits)).toEqual([
      { l1: 2, l2: 0 },
      { l1: 1, l2: 2 },
      { l1: 1, l2: 2 },
    ])
    await instances[0]!.write('k', () => db.rows.set('k', 'v2'))
    clock.advance(1001)
    for (const cache of instances.slice(1)) {
      expect(await cache.getOrLoad('k', db.load, tagged)).toBe('v2')
      await cache.settled()
    }
    db.rows.set('k', 'v3')
    await instances[2]!.invalidateTags('t')
    clock.advance(1001)
    expect(await instances[1]!.getOrLoad('k', db.load, { tags: ['t'] })).toBe('v3')
    await instances[1]!.settled()
    expect(await instances[0]!.getOrLoad('k', db.load, { tags: ['t'] })).toBe('v3')
  })

  it('tag versions tier 2 lost (a failover that dropped the last bumps, a restart without persistence): the next invalidation still reaches entries written since by instances that remember the old versions', async () => {
    const namespace = `coh-lost-${Date.now()}`
    const clock = new ManualClock()
    const instance = (seed: number) =>
      createCache({
        redis: new UpstashStore({ url: proxy.url, token: TOKENS.standard }),
        namespace,
        clock,
        random: seededRandom(seed),
        ttl: '1h',
        l1: { ttl: '1h' },
        timeouts: { l2: '2s' },
      })
    const old = instance(1)
    const db = database()
    const tagged = { tags: ['t'] }
    db.rows.set('k', 'v1')
    // The old instance learns the tag's version 3 (its own invalidations answer it).
    for (let i = 0; i < 3; i++) await old.invalidateTags('t')
    // Tier 2 loses the versions (and the stream): what a restart without persistence leaves.
    const admin = new UpstashStore({ url: proxy.url, token: TOKENS.standard }).redis
    const keys = syncKeys(`${namespace}:`)
    expect(await admin.del(keys.versions, keys.stream, keys.watermark)).toBeGreaterThan(0)
    clock.advance(4000) // a failover takes seconds (3 to 4 s on this cluster), a restart as long
    // The old instance caches k under the version it remembers.
    expect(await old.getOrLoad('k', db.load, tagged)).toBe('v1')
    await old.settled()
    // The source changes and the tag is invalidated, by a new instance: version 1 in tier 2 now.
    db.rows.set('k', 'v2')
    const fresh = instance(2)
    await fresh.invalidateTags('t')
    clock.advance(1001)
    // Neither a new instance reading tier 2 nor the old one may serve v1 any more.
    expect(await instance(3).getOrLoad('k', db.load, tagged)).toBe('v2')
    expect(await old.getOrLoad('k', db.load, tagged)).toBe('v2')
    expect(await fresh.getOrLoad('k', db.load, tagged)).toBe('v2')
  })
})
