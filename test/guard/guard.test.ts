/**
 * The guard on the real cluster through the proxy: shared state in Redis, mirrors in process.
 */
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest'
import { createCache } from '../../src/cache/create-cache.js'
import { UpstashStore } from '../../src/cache/upstash-store.js'
import { createGuard } from '../../src/guard/index.js'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { startTestProxy, TOKENS } from '../helpers/proxy.js'

let proxy: RunningProxy
beforeAll(async () => {
  proxy = await startTestProxy({ redis: inject('clusterUrl') })
})
afterAll(() => proxy.close('1s'))

/** An Upstash store that counts the keys tier 2 is asked about. */
class CountingStore extends UpstashStore {
  asked = new Set<string>()
  override async readOrLock(key: string, token: string, lockTtlMs: number, now: number) {
    this.asked.add(key)
    return super.readOrLock(key, token, lockTtlMs, now)
  }
}

function instance(namespace: string) {
  const store = new CountingStore({ url: proxy.url, token: TOKENS.standard })
  const cache = createCache({ redis: store, namespace, timeouts: { l2: '2s' } })
  return { store, cache }
}

describe('guard', () => {
  it('10,000 absent ids queried 100,000 times: the loader runs for ≤ 1.5 % of them, tier 2 never for the rest', {
    timeout: 60_000,
  }, async () => {
    const ns = `guard-${randomUUID().slice(0, 8)}`
    const { cache, store } = instance(ns)
    const guard = createGuard(cache, 'users', { expected: 10_000, fpRate: 0.01 })
    const present = Array.from({ length: 10_000 }, (_, i) => `user:${i}`)
    expect(await guard.rebuild(present)).toMatchObject({ added: 10_000 })
    expect(guard.stats()).toMatchObject({ loaded: true, overloaded: false })

    const absent = Array.from({ length: 10_000 }, () => `user:${randomUUID()}`)
    const loaded = new Set<string>()
    const loader = async (key: string) => {
      loaded.add(key)
      return null // they exist nowhere
    }
    for (let q = 0; q < 100_000; q += 1000) {
      await Promise.all(
        Array.from({ length: 1000 }, (_, j) =>
          cache.getOrLoad(absent[(q + j) % absent.length]!, loader, { guard }),
        ),
      )
    }
    expect(loaded.size / absent.length).toBeLessThanOrEqual(0.015)
    // Tier 2 saw only the ids the guard could not rule out (its false positives), and each once.
    expect(store.asked.size).toBe(loaded.size)
    expect(cache.stats().guarded).toBeGreaterThan(90_000)

    // No false negative: every present id still reaches its loader.
    const presentLoader = vi.fn(async (key: string) => ({ key }))
    for (const id of present.slice(0, 200))
      expect(await cache.getOrLoad(id, presentLoader, { guard })).toEqual({ key: id })
    expect(presentLoader).toHaveBeenCalledTimes(200)
  })

  it('the state is shared: another instance loads the same bitmap; adds reach every instance', async () => {
    const ns = `guard-${randomUUID().slice(0, 8)}`
    const a = createGuard(instance(ns).cache, 'orders', { expected: 1000 })
    const b = createGuard(instance(ns).cache, 'orders', { expected: 1000 })
    await a.rebuild(['order:1', 'order:2'])
    await b.load()
    expect(b.mightContain('order:1')).toBe(true)
    expect(b.mightContain('order:999')).toBe(false)
    await a.add('order:999') // a new order is written
    expect(a.mightContain('order:999')).toBe(true) // at once in the writer's mirror
    await b.load() // others see it at their next refresh
    expect(b.mightContain('order:999')).toBe(true)
  })

  it('adds made during a rebuild are kept after the switch; readers never see a half-built filter', async () => {
    const ns = `guard-${randomUUID().slice(0, 8)}`
    const writer = createGuard(instance(ns).cache, 'items', { expected: 5000 })
    const reader = createGuard(instance(ns).cache, 'items', { expected: 5000 })
    await writer.rebuild(Array.from({ length: 3000 }, (_, i) => `item:${i}`))
    await reader.load()
    async function* slowSource() {
      for (let i = 0; i < 3000; i++) {
        if (i === 1500) {
          await writer.add('item:new-during-rebuild')
          await reader.load() // mid-rebuild: still the old, complete generation
          expect(reader.mightContain('item:2999')).toBe(true)
        }
        yield `item:${i}`
      }
    }
    await writer.rebuild(slowSource())
    await reader.load()
    expect(reader.mightContain('item:new-during-rebuild')).toBe(true)
    expect(reader.mightContain('item:2999')).toBe(true)
  })

  it('reports its fill and asks for a rebuild past its design load', async () => {
    const events: string[] = []
    const cache = createCache({ onEvent: (e) => events.push(e.type) }) // in-memory tier 2: a process-local guard
    const guard = createGuard(cache, 'small', { expected: 100 })
    await guard.add(Array.from({ length: 300 }, (_, i) => `x${i}`))
    expect(guard.stats().overloaded).toBe(true)
    expect(guard.stats().estimatedFpRate).toBeGreaterThan(0.01)
    expect(events).toContain('guardOverloaded')
  })

  it('tier 2 down: the guard answers "maybe present" and never blocks a real id', async () => {
    const dead = await startTestProxy({ mode: 'standalone', redis: 'redis://127.0.0.1:1' })
    const url = dead.url
    await dead.close('1s')
    const cache = createCache({ redis: { url, token: TOKENS.standard }, timeouts: { l2: '500ms' } })
    const guard = createGuard(cache, 'users', { expected: 1000 })
    await guard.load()
    expect(guard.stats().loaded).toBe(false)
    expect(guard.mightContain('anything')).toBe(true)
    expect(await cache.getOrLoad('user:1', async () => 'loaded', { guard })).toBe('loaded')
  })

  it('bad names and options are refused, named', () => {
    const cache = createCache()
    expect(() => createGuard(cache, '', { expected: 10 })).toThrowError(/Invalid guard name/)
    expect(() => createGuard(cache, 'a{b}', { expected: 10 })).toThrowError(/Invalid guard name/)
    expect(() => createGuard(cache, 'g', { expected: 0 })).toThrowError(/Invalid option expected/)
    expect(() => createGuard(cache, 'g2', { expected: 10, fpRate: 2 })).toThrowError(/Invalid option fpRate/)
    // Past what a Redis string holds: named, instead of a RangeError from allocating the mirror.
    expect(() => createGuard(cache, 'huge', { expected: 1e12, fpRate: 0.01 })).toThrowError(
      /^Invalid option expected: 1000000000000 ids at fpRate 0.01 need a bitmap of \d+ MB; a Redis string .* holds at most 512 MB/,
    )
    expect(() => createGuard(cache, 'largest', { expected: 300_000_000, fpRate: 0.01 })).not.toThrow()
  })

  it('ids must be strings: a number hashed as no characters, so every real id added as one was answered absent', async () => {
    const { cache } = instance(`ids-${randomUUID()}`)
    const guard = createGuard(cache, 'numbers', { expected: 1000, fpRate: 0.01 })
    await expect(guard.add([1, 2] as never)).rejects.toThrowError(
      /^Invalid option ids\[0\]: must be a string, as the keys the guard answers for are, got 1 \(pass String\(1\)\)$/,
    )
    await expect(guard.add(7 as never)).rejects.toThrowError(/^Invalid option ids: must be a string/)
    await expect(guard.add(['ok', { id: 3 }] as never)).rejects.toThrowError(
      /^Invalid option ids\[1\]: .*got object$/,
    )
    expect(guard.stats().estimatedCount).toBe(0) // a refused batch adds nothing, 'ok' included
    expect(() => guard.mightContain(7 as never)).toThrowError(/^Invalid option id: must be a string/)
    await expect(guard.rebuild(5 as never)).rejects.toThrowError(
      /^Invalid option source: must be an iterable or async iterable of ids, got 5$/,
    )
    await expect(guard.rebuild(['a', 2] as never)).rejects.toThrowError(
      /^Invalid option source item 1: must be a string/,
    )
    // Strings work as before, and the key's text is what getOrLoad asks about.
    await guard.add(['1', '2'])
    await guard.load() // until its first load, a guard answers "maybe" for every id
    expect(await cache.getOrLoad('2', async () => 'two', { guard })).toBe('two')
    expect(await cache.getOrLoad('3', async () => 'three', { guard })).toBeNull()
  })
})
