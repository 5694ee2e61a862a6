/**
 * One behaviour suite for both L1 stores: lru-cache (`createCache`) and the compact LRU
 * (`createEdgeCache`). Whatever the cache relies on must hold for each, with the same answers.
 */
import { describe, expect, it } from 'vitest'
import { CompactLru, compactL1 } from '../../src/cache/compact-lru.js'
import { lruCacheL1 } from '../../src/cache/l1-lru-cache.js'
import type { L1DisposeReason, L1Entry, L1Factory, L1StoreOptions } from '../../src/cache/l1-store.js'
import { ManualClock, seededRandom } from '../helpers/clock.js'

const entry = (value: unknown, size = 10): L1Entry => ({ value, nullMarker: false, size, tags: undefined })

function make(factory: L1Factory, options: Partial<L1StoreOptions> = {}) {
  const clock = new ManualClock()
  const disposed: Array<[string, L1DisposeReason]> = []
  const store = factory({
    max: 100,
    maxSize: 10_000,
    now: clock.now,
    exactClock: true,
    onDispose: (key, reason) => disposed.push([key, reason]),
    ...options,
  })
  return { store, clock, disposed }
}

describe.each([
  ['lru-cache', lruCacheL1],
  ['compact LRU', compactL1],
] as const)('L1 store: %s', (_name, factory) => {
  it('gets what was set, counts entries and bytes, deletes and clears', () => {
    const { store, disposed } = make(factory)
    expect(store.get('a')).toBeUndefined()
    store.set('a', entry(1, 10), { ttl: 1000 })
    store.set('b', entry(2, 25), { ttl: 1000 })
    expect(store.get('a')?.value).toBe(1)
    expect(store.size).toBe(2)
    expect(store.calculatedSize).toBe(35)
    expect(store.delete('a')).toBe(true)
    expect(store.delete('a')).toBe(false)
    expect(store.calculatedSize).toBe(25)
    store.clear()
    expect(store.size).toBe(0)
    expect(store.calculatedSize).toBe(0)
    expect(disposed).toEqual([
      ['a', 'delete'],
      ['b', 'delete'],
    ])
  })

  it('expires an entry once the clock is past its ttl (not at it), and ttl 0 never expires', () => {
    const { store, clock, disposed } = make(factory)
    store.set('a', entry(1), { ttl: 1000 })
    store.set('forever', entry(2), { ttl: 0 })
    clock.advance(1000)
    expect(store.get('a')?.value).toBe(1)
    clock.advance(1)
    expect(store.get('a')).toBeUndefined()
    expect(disposed).toEqual([['a', 'expire']])
    clock.advance(10 ** 9)
    expect(store.get('forever')?.value).toBe(2)
  })

  it('evicts the least recently used past the entry bound; a get makes an entry recent', () => {
    const { store, disposed } = make(factory, { max: 3 })
    for (const key of ['a', 'b', 'c']) store.set(key, entry(key), { ttl: 1000 })
    expect(store.get('a')?.value).toBe('a') // b is now the least recently used
    store.set('d', entry('d'), { ttl: 1000 })
    expect(store.get('b')).toBeUndefined()
    expect([store.get('a'), store.get('c'), store.get('d')].map((e) => e?.value)).toEqual(['a', 'c', 'd'])
    expect(disposed).toEqual([['b', 'evict']])
  })

  it('evicts past the byte bound, as many as it takes, and never keeps an entry larger than the bound', () => {
    const { store, disposed } = make(factory, { maxSize: 100 })
    store.set('a', entry('a', 40), { ttl: 1000 })
    store.set('b', entry('b', 40), { ttl: 1000 })
    store.set('c', entry('c', 90), { ttl: 1000 }) // a and b must both go
    expect(store.size).toBe(1)
    expect(store.calculatedSize).toBe(90)
    expect(disposed).toEqual([
      ['a', 'evict'],
      ['b', 'evict'],
    ])
    store.set('c', entry('c2', 101), { ttl: 1000 }) // too large: not kept, and the old c is gone
    expect(store.get('c')).toBeUndefined()
    expect(store.calculatedSize).toBe(0)
    expect(disposed.at(-1)).toEqual(['c', 'set'])
  })

  it('replacing an entry disposes the old one as "set" and counts the new size', () => {
    const { store, disposed } = make(factory)
    store.set('a', entry(1, 10), { ttl: 1000 })
    store.set('a', entry(2, 30), { ttl: 1000 })
    expect(store.get('a')?.value).toBe(2)
    expect(store.calculatedSize).toBe(30)
    expect(disposed).toEqual([['a', 'set']])
  })

  it('calls nothing when nobody listens', () => {
    const { store } = make(factory, { onDispose: undefined, max: 1 })
    store.set('a', entry(1), { ttl: 1000 })
    store.set('b', entry(2), { ttl: 1000 })
    store.clear()
    expect(store.size).toBe(0)
  })

  it('agrees with the other store over a long random run of operations', () => {
    // Same operations on both, same answers: sizes, values and dispose reasons.
    const a = make(lruCacheL1, { max: 20, maxSize: 400 })
    const b = make(factory, { max: 20, maxSize: 400 })
    const random = seededRandom(7)
    const next = (n: number) => Math.floor(random() * n)
    for (let i = 0; i < 5000; i++) {
      const key = `k${next(40)}`
      const op = next(10)
      if (op < 5) {
        const e = entry(i, 1 + next(60))
        const ttl = next(4) === 0 ? 0 : 1 + next(500)
        a.store.set(key, e, { ttl })
        b.store.set(key, e, { ttl })
      } else if (op < 9) {
        expect(b.store.get(key)?.value).toBe(a.store.get(key)?.value)
      } else {
        expect(b.store.delete(key)).toBe(a.store.delete(key))
      }
      if (next(5) === 0) {
        const step = next(50)
        a.clock.advance(step)
        b.clock.advance(step)
      }
      expect([b.store.size, b.store.calculatedSize]).toEqual([a.store.size, a.store.calculatedSize])
    }
    expect(b.disposed).toEqual(a.disposed)
    // The run exercised every way out.
    const reasons = new Set(a.disposed.map(([, reason]) => reason))
    expect([...reasons].sort()).toEqual(['delete', 'evict', 'expire', 'set'])
  })
})

describe('CompactLru', () => {
  it('is what compactL1 builds', () => {
    expect(make(compactL1).store).toBeInstanceOf(CompactLru)
  })
})
