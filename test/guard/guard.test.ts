/**
 * The guard on the real cluster through the proxy: shared state in Redis, mirrors in process.
 */
import { createHash, randomUUID } from 'node:crypto'
import { Redis } from '@upstash/redis'
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest'
import { createCache } from '../../src/cache/create-cache.js'
import { UpstashStore } from '../../src/cache/upstash-store.js'
import { createGuard } from '../../src/guard/index.js'
import { LOAD } from '../../src/guard/scripts.js'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { startTestProxy, TOKENS } from '../helpers/proxy.js'
import { startRelay } from '../helpers/tcp-relay.js'

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

/** A promise and the function that settles it (Node 20 has no Promise.withResolvers). */
function signal(): [Promise<void>, () => void] {
  let settle!: () => void
  const settled = new Promise<void>((resolve) => {
    settle = resolve
  })
  return [settled, settle]
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

  it('a fresh instance that feeds its guard answers "absent" as soon as the add resolves (it used to answer "maybe" until a background load came back)', async () => {
    const ns = `guard-${randomUUID().slice(0, 8)}`
    const first = instance(ns)
    const a = createGuard(first.cache, 'products', { expected: 1000 })
    await a.add(['product:1', 'product:2']) // the demo app's start-up feed
    expect(a.stats().loaded).toBe(true)
    const loader = vi.fn(async () => null)
    expect(await first.cache.getOrLoad('product:999', loader, { guard: a })).toBeNull()
    expect(loader).not.toHaveBeenCalled()
    expect(first.store.asked.size).toBe(0)
    // A second instance feeding the same guard loads the shared bitmap: it holds the first one's ids.
    const b = createGuard(instance(ns).cache, 'products', { expected: 1000 })
    await b.add('product:3')
    expect(['product:1', 'product:2', 'product:3'].map((id) => b.mightContain(id))).toEqual([
      true,
      true,
      true,
    ])
    expect(b.mightContain('product:999')).toBe(false)
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

  it('a rebuild whose begin or switch answer was lost, sent again by the client, starts one generation and keeps it', async () => {
    // @upstash/redis sends a request again when its connection dies, after the script ran. The
    // switch's second run found its generation current, took it for one a later rebuild had
    // overtaken, and deleted its bitmap: every real id then answered absent (null), everywhere.
    // The begin's second run started a second generation, the first left "under way" for an hour
    // (every add written to it too).
    const relay = await startRelay(Number(new URL(proxy.url).port))
    try {
      const ns = `guard-${randomUUID().slice(0, 8)}`
      const lossy = createCache({
        redis: { url: `http://127.0.0.1:${relay.port}`, token: TOKENS.standard },
        namespace: ns,
      })
      const a = createGuard(lossy, 'orders', { expected: 1000 })
      await a.rebuild(['order:1']) // scripts loaded on the guard's node: the lost runs are EVALSHA
      relay.loseAnswerTo('guard:{orders}:gen"')
      expect(await a.rebuild(['order:1'])).toMatchObject({ added: 1, generation: '2' })
      expect(relay.lost).toBe(1)
      const raw = new Redis({ url: proxy.url, token: TOKENS.standard })
      expect(await raw.zcard(`${ns}:guard:{orders}:builds`)).toBe(0)
      relay.loseAnswerTo('guard:{orders}:current')
      expect(await a.rebuild(['order:1', 'order:2'])).toMatchObject({ added: 2, generation: '3' })
      expect(relay.lost).toBe(2)
      const b = createGuard(instance(ns).cache, 'orders', { expected: 1000 })
      await b.load()
      expect(b.mightContain('order:2')).toBe(true)
      expect(b.mightContain('order:1')).toBe(true)
      expect(a.mightContain('order:2')).toBe(true)
    } finally {
      await relay.close()
    }
  })

  it('a guard whose shared state is gone (tier 2 restarted empty, its bitmap evicted) answers "maybe", never "absent"', async () => {
    // A cache's Redis often runs with maxmemory-policy allkeys-lru, or without persistence: the
    // guard's keys can go. An empty or missing filter read as one that holds nothing answered every
    // real id absent (null, no loader) on every instance, until someone rebuilt it.
    const ns = `guard-${randomUUID().slice(0, 8)}`
    const raw = new Redis({ url: proxy.url, token: TOKENS.standard })
    const tag = `${ns}:guard:{users}`
    const errors: unknown[] = []
    const b = createGuard(
      createCache({
        redis: { url: proxy.url, token: TOKENS.standard },
        namespace: ns,
        onEvent: (e) => e.type === 'l2Error' && errors.push(e),
      }),
      'users',
      { expected: 1000 },
    )
    // Never fed (nothing added, nothing rebuilt): it knows nothing, so it blocks nothing.
    await b.load()
    expect(b.mightContain('user:1')).toBe(true)
    expect(b.stats().loaded).toBe(false)
    const a = createGuard(instance(ns).cache, 'users', { expected: 1000 })
    await a.rebuild(['user:1', 'user:2'])
    await b.load()
    expect(b.stats()).toMatchObject({ loaded: true, generation: '1' })
    expect([b.mightContain('user:1'), b.mightContain('user:999')]).toEqual([true, false])
    // The bitmap evicted: "maybe", said as an error event; an add does not bring back a partial one.
    await raw.del(`${tag}:g1`)
    await a.add('user:3')
    await b.load()
    expect(b.stats().loaded).toBe(false)
    expect(b.mightContain('user:1')).toBe(true)
    await b.add('user:4') // no load after it: it would find the bitmap gone again
    expect(errors).toEqual([expect.objectContaining({ operation: 'guardLoad' })])
    expect(String((errors[0] as { error: Error }).error.message)).toMatch(/bitmap .* is gone from tier 2/)
    // A rebuild brings it back.
    await a.rebuild(['user:1', 'user:2', 'user:3'])
    await b.load()
    expect([b.mightContain('user:3'), b.mightContain('user:999')]).toEqual([true, false])
    // Every key gone (a Redis restarted without persistence): "maybe" again.
    await raw.del(`${tag}:current`, `${tag}:sizes`, `${tag}:gen`, `${tag}:builds`, `${tag}:g2`)
    await b.load()
    expect(b.mightContain('user:1')).toBe(true)
    // An empty rebuild (the source holds no ids) is a filter, not a loss: every id absent.
    await a.rebuild([])
    await b.load()
    expect(b.stats().loaded).toBe(true)
    expect(b.mightContain('user:1')).toBe(false)
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

  it('an id added while a load is in flight stays in the mirror (the load used to replace it with a bitmap read before the add)', async () => {
    const { cache } = instance(`race-${randomUUID().slice(0, 8)}`)
    const guard = createGuard(cache, 'users', { expected: 1000 })
    await guard.add('user:0') // fed, and so loaded: the load below is a refresh
    // The next load's bitmap is read in Redis before the add, and its answer held until the add is
    // done: the order that used to lose the add.
    const loadSha = createHash('sha1').update(LOAD).digest('hex')
    const realFetch = globalThis.fetch
    const [loadRead, readInRedis] = signal()
    const [held, release] = signal()
    const fetchSpy = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      const response = await realFetch(input, init)
      if (String(init?.body).includes(loadSha)) {
        readInRedis()
        await held
      }
      return response
    })
    try {
      const loading = guard.load() // as a guard's refresh starts one
      await loadRead
      await guard.add('user:new') // a user signs up, then reads their profile
      release()
      await loading
    } finally {
      fetchSpy.mockRestore()
    }
    expect(guard.mightContain('user:new')).toBe(true)
    expect(await cache.getOrLoad('user:new', async () => 'profile', { guard })).toBe('profile')
  })

  it("instances sized differently share one filter: the shared generation keeps its sizing until a rebuild (they used to read each other's bits as absent ids)", async () => {
    const ns = `sizing-${randomUUID().slice(0, 8)}`
    const present = Array.from({ length: 200 }, (_, i) => `user:${i}`)
    const old = createGuard(instance(ns).cache, 'users', { expected: 1000, fpRate: 0.01 })
    await old.add(present)
    // A deploy raises expected: the new instances read the bitmap the old ones wrote.
    const resized = createGuard(instance(ns).cache, 'users', { expected: 20_000, fpRate: 0.001 })
    await resized.load()
    expect(present.filter((id) => !resized.mightContain(id))).toEqual([])
    expect(resized.stats()).toMatchObject({
      expected: 1000,
      bits: old.stats().bits,
      sizedAsConfigured: false,
    })
    await resized.add('user:added-by-new') // written in the shared generation's sizing
    await old.load()
    expect(old.mightContain('user:added-by-new')).toBe(true)
    // A rebuild makes the filter in the rebuilding instance's sizing; every instance follows it.
    await resized.rebuild([...present, 'user:added-by-new'])
    expect(resized.stats()).toMatchObject({ expected: 20_000, sizedAsConfigured: true })
    await old.add('user:added-by-old') // the old sizing is refused by tier 2: old reloads, then adds
    expect(old.stats()).toMatchObject({ expected: 20_000, sizedAsConfigured: false })
    await resized.load()
    for (const id of [...present, 'user:added-by-new', 'user:added-by-old']) {
      expect(resized.mightContain(id)).toBe(true)
      expect(old.mightContain(id)).toBe(true)
    }
  })

  it('an add during a rebuild that changes the sizing is kept after the switch', async () => {
    const ns = `resize-${randomUUID().slice(0, 8)}`
    const writer = createGuard(instance(ns).cache, 'items', { expected: 1000 })
    const rebuilder = createGuard(instance(ns).cache, 'items', { expected: 50_000 })
    await writer.add('item:1')
    async function* source() {
      yield 'item:1'
      await writer.add('item:during') // in the old sizing for the current generation, the new for the one being built
      yield 'item:2'
    }
    await rebuilder.rebuild(source())
    await writer.load()
    for (const guard of [writer, rebuilder])
      for (const id of ['item:1', 'item:2', 'item:during']) expect(guard.mightContain(id)).toBe(true)
    expect(writer.stats().expected).toBe(50_000)
  })
})

describe('guard: rebuilds that overlap', () => {
  /** A source that yields its ids, then waits for `finish()` before it ends. */
  function heldSource(ids: string[]) {
    const [finished, finish] = signal()
    const [started, begun] = signal()
    async function* source() {
      begun()
      yield* ids
      await finished
    }
    return { source: source(), started, finish }
  }

  it.each([
    ['the rebuild that began first switches last', 'last'],
    ['the rebuild that began first switches first', 'first'],
  ] as const)(
    'two rebuilds at once (every instance rebuilding at its cold start), %s: no id added meanwhile is lost',
    async (_, order) => {
      const ns = `overlap-${randomUUID().slice(0, 8)}`
      const guard = () => createGuard(instance(ns).cache, 'users', { expected: 1000 })
      const early = guard()
      const late = guard()
      const writer = guard()
      const ids = ['user:1', 'user:2']
      const first = heldSource(ids)
      const second = heldSource(ids)
      const earlyDone = early.rebuild(first.source)
      await first.started
      const lateDone = late.rebuild(second.source)
      await second.started
      await writer.add('user:before-any-switch') // both rebuilds under way
      if (order === 'last') {
        second.finish()
        await lateDone
        await writer.add('user:between') // only the later rebuild is current now
        first.finish()
        expect((await earlyDone).generation).toBe((await lateDone).generation) // the earlier one stood down
      } else {
        first.finish()
        await earlyDone
        // Current now, while the later rebuild still runs: it has what was added since that began.
        await writer.load()
        expect(writer.mightContain('user:before-any-switch')).toBe(true)
        await writer.add('user:between')
        second.finish()
        await lateDone
      }
      for (const g of [early, late, writer]) {
        await g.load()
        for (const id of [...ids, 'user:before-any-switch', 'user:between'])
          expect(g.mightContain(id)).toBe(true)
      }
    },
  )
})

describe('guard: a rebuild that fails', () => {
  it('leaves nothing under way: adds stop going to its generation, and its bitmap is deleted', async () => {
    const ns = `abandon-${randomUUID().slice(0, 8)}`
    const guard = createGuard(instance(ns).cache, 'users', { expected: 1000 })
    await guard.rebuild(['user:1'])
    async function* failing() {
      yield 'user:2'
      throw new Error('the database went away')
    }
    await expect(guard.rebuild(failing())).rejects.toThrowError('the database went away')
    const redis = new Redis({ url: proxy.url, token: TOKENS.standard })
    const tag = `${ns}:guard:{users}`
    expect(await redis.zcard(`${tag}:builds`)).toBe(0) // it was under way until its deadline, an hour
    expect(await redis.exists(`${tag}:g2`)).toBe(0)
    await guard.add('user:3')
    await guard.load()
    expect(['user:1', 'user:3'].every((id) => guard.mightContain(id))).toBe(true)
  })
})
