/**
 * The tier-2 store contract, as one suite every store must pass (the in-memory store and the
 * Upstash REST store through the proxy on the real cluster).
 */
import { describe, expect, it } from 'vitest'
import type { TierTwoStore } from '../../src/cache/store.js'
import { syncKeys } from '../../src/cache/sync-scripts.js'

/** What the suite needs from each store. */
export interface ContractTarget {
  store: TierTwoStore
  /** Lays down an entry's text as given (no fence bumped), removed after `ttlMs`: the fixtures. */
  write(key: string, text: string, ttlMs: number): Promise<void>
  /** Lets `ms` pass for the store's expiry (a manual clock, or real time for Redis). */
  elapse(ms: number): Promise<void>
}

/** Registers the contract tests for one store. */
export function storeContract(name: string, target: () => ContractTarget) {
  describe(`tier-2 store contract: ${name}`, () => {
    const ns = `contract-${name}-${Date.now()}`
    const k = (key: string) => `${ns}:${key}`

    it('reads what it wrote, text unchanged, absent keys as undefined, in order', async () => {
      const { store, write } = target()
      const text = 'tc1:{"v":"zoë 🚀","f":1,"d":0,"c":0}'
      await write(k('a'), text, 60_000)
      await write(k('{x}b'), 'tc1:{"n":1,"f":1,"d":0,"c":0}', 60_000)
      expect(await store.getMany([k('a'), k('missing'), k('{x}b')])).toEqual([
        text,
        undefined,
        'tc1:{"n":1,"f":1,"d":0,"c":0}',
      ])
      expect(await store.getMany([])).toEqual([])
    })

    it('reads many keys over many slots in one call', async () => {
      const { store, write } = target()
      const keys = Array.from({ length: 50 }, (_, i) => k(`many${i}`))
      for (const [i, key] of keys.entries()) await write(key, `tc1:${i}`, 60_000)
      expect(await store.getMany(keys)).toEqual(keys.map((_, i) => `tc1:${i}`))
    })

    it('overwrites', async () => {
      const { store, write } = target()
      await write(k('o'), 'tc1:1', 60_000)
      await write(k('o'), 'tc1:2', 60_000)
      expect(await store.getMany([k('o')])).toEqual(['tc1:2'])
    })

    it('readOrLock: one caller takes the rebuild lock on a miss; a fresh entry takes no lock', async () => {
      const { store } = target()
      const now = Date.now()
      const first = await store.readOrLock(k('rl'), 'token-a', 5000, now)
      expect(first).toEqual({ text: undefined, locked: true, fence: 0 })
      expect(await store.readOrLock(k('rl'), 'token-b', 5000, now)).toEqual({
        text: undefined,
        locked: false,
        fence: 0,
      })
      // The same call run again (a request the HTTP client sent again after losing its answer)
      // still holds it: otherwise it would wait out rebuild.wait for a fill of its own.
      expect(await store.readOrLock(k('rl'), 'token-a', 5000, now)).toEqual(first)
      const entry = `tc1:${JSON.stringify({ v: 1, f: now + 60_000, d: 5, c: 0 })}`
      expect(await store.fill(k('rl'), entry, 60_000, 0, 'token-a')).toBe(true)
      expect(await store.readOrLock(k('rl'), 'token-c', 5000, now)).toEqual({
        text: entry,
        locked: false,
        fence: 0,
      })
      // Past its fresh time: the entry comes back (stale) and one caller takes the lock.
      expect(await store.readOrLock(k('rl'), 'token-d', 5000, now + 61_000)).toEqual({
        text: entry,
        locked: true,
        fence: 0,
      })
      expect(await store.holdLock(k('rl'), 'token-d', 60_000)).toBe(true)
      expect(await store.holdLock(k('rl'), 'someone-else', 60_000)).toBe(false)
      expect(await store.readOrLock(k('rl'), 'token-e', 5000, now + 61_000)).toMatchObject({ locked: false })
      expect(await store.unlock(k('rl'), 'token-d')).toBe(true)
      expect(await store.unlock(k('rl'), 'token-d')).toBe(false)
    })

    it('fill is compare-on-fence: a fence that moved refuses the write, and the lock is released anyway', async () => {
      const { store, write } = target()
      const now = Date.now()
      const moved = `tc1:${JSON.stringify({ n: 1, f: now + 60_000, d: 0, c: 7 })}` // a writer bumped the fence
      await write(k('fence'), moved, 60_000)
      const miss = await store.readOrLock(k('fence'), 't1', 5000, now + 120_000)
      expect(miss).toMatchObject({ locked: true, fence: 7 })
      await write(k('fence'), `tc1:${JSON.stringify({ n: 1, f: now, d: 0, c: 8 })}`, 60_000) // another write meanwhile
      expect(
        await store.fill(
          k('fence'),
          `tc1:${JSON.stringify({ v: 'old', f: now + 60_000, d: 0, c: 7 })}`,
          60_000,
          7,
          't1',
        ),
      ).toBe(false)
      expect((await store.getMany([k('fence')]))[0]).toContain('"c":8')
      expect(await store.readOrLock(k('fence'), 't2', 5000, now + 120_000)).toMatchObject({
        locked: true,
        fence: 8,
      })
    })

    it('invalidate: each key becomes a tombstone with a bumped fence (absent keys too), in one call', async () => {
      const { store, write } = target()
      const now = Date.now()
      await write(k('w1'), `tc1:${JSON.stringify({ v: 'old', f: now + 60_000, d: 0, c: 4 })}`, 60_000)
      await store.invalidate([k('w1'), k('{other}w2')], 60_000)
      const [w1, w2] = await store.getMany([k('w1'), k('{other}w2')])
      expect(JSON.parse(w1!.slice(4))).toEqual({ n: 1, f: 0, d: 0, c: 5 })
      expect(JSON.parse(w2!.slice(4))).toEqual({ n: 1, f: 0, d: 0, c: 1 })
      // The next reader rebuilds (a tombstone is never fresh) and must fill with the new fence.
      expect(await store.readOrLock(k('w1'), 'r', 5000, now)).toMatchObject({ locked: true, fence: 5 })
      await store.invalidate([], 60_000)
    })

    it('put bumps the fence past the current entry, keeping the value text as given', async () => {
      const { store } = target()
      const now = Date.now()
      const miss = await store.readOrLock(k('put'), 'slow-reader', 5000, now)
      expect(miss).toMatchObject({ locked: true, fence: 0 })
      await store.put(
        k('put'),
        `tc1:${JSON.stringify({ c: 0, v: { note: '{"c":0, inside}' }, f: now + 60_000, d: 0 })}`,
        60_000,
      )
      const [text] = await store.getMany([k('put')])
      expect(JSON.parse(text!.slice(4))).toEqual({
        c: 1,
        v: { note: '{"c":0, inside}' },
        f: now + 60_000,
        d: 0,
      })
      // The slow reader read fence 0 before the put: its fill is refused.
      expect(
        await store.fill(
          k('put'),
          `tc1:${JSON.stringify({ c: 0, v: 'old', f: now + 60_000, d: 0 })}`,
          60_000,
          0,
          'slow-reader',
        ),
      ).toBe(false)
      await store.put(
        k('put'),
        `tc1:${JSON.stringify({ c: 0, n: 1, f: now + 60_000, d: 0 })}`,
        Number.POSITIVE_INFINITY,
      )
      expect((await store.getMany([k('put')]))[0]).toContain('"c":2')
    })

    it('invalidation stream: a new reader starts at the end; entries come back in order, in batches', async () => {
      const { store } = target()
      const sync = syncKeys(`${ns}-stream:`)
      const start = await store.readInvalidations(sync, '', 10)
      expect(start).toEqual({ cursor: expect.any(String), reset: false, entries: [] })
      // The caller's clock (ms): a bumped version is above the tag's last one and at least that,
      // so it also tops any version a hash tier 2 has since lost had answered (see NOTIFY).
      const now = 1_800_000_000_000
      expect(await store.notify(sync, 1000, ['a', 'b'], [], now)).toEqual([])
      expect(await store.notify(sync, 1000, ['c'], ['t:red', 'n:x:'], now)).toEqual([now, now])
      // Within the same millisecond, or from a caller whose clock is behind: the last one + 1.
      expect(await store.notify(sync, 1000, [], ['t:red'], now - 5000)).toEqual([now + 1])
      const first = await store.readInvalidations(sync, start.cursor, 2)
      expect(first.reset).toBe(false)
      expect(first.entries).toEqual([
        { keys: ['a', 'b'], tags: {} },
        { keys: ['c'], tags: { 't:red': now, 'n:x:': now } },
      ])
      const second = await store.readInvalidations(sync, first.cursor, 2)
      expect(second.entries).toEqual([{ keys: [], tags: { 't:red': now + 1 } }])
      const none = await store.readInvalidations(sync, second.cursor, 2)
      expect(none).toEqual({ cursor: second.cursor, reset: false, entries: [] })
      expect(await store.tagVersions(sync, ['t:red', 'n:x:', 't:never'])).toEqual([now + 1, now, 0])
      // A reader that joins now starts after all of it.
      expect(await store.readInvalidations(sync, '', 10)).toEqual({
        cursor: second.cursor,
        reset: false,
        entries: [],
      })
    })

    it('invalidation stream: bounded, and a cursor the trimming passed is told to reset', async () => {
      const { store } = target()
      const sync = syncKeys(`${ns}-trim:`)
      const start = await store.readInvalidations(sync, '', 10)
      await store.notify(sync, 20, ['first'], [], 0)
      const afterFirst = await store.readInvalidations(sync, start.cursor, 10)
      for (let i = 0; i < 40; i++) await store.notify(sync, 20, [`k${i}`], [], 0)
      // Kept between the bound and 1.1 × the bound (trimmed a tenth at a time): at most 22 of 41.
      const all = await store.readInvalidations(sync, afterFirst.cursor, 100)
      expect(all.reset).toBe(true)
      expect(all.entries).toEqual([])
      const fresh = await store.readInvalidations(sync, '', 10)
      expect(fresh.cursor).toBe(all.cursor)
      // A cursor inside what is kept reads on normally.
      await store.notify(sync, 20, ['late'], [], 0)
      expect((await store.readInvalidations(sync, fresh.cursor, 10)).entries).toEqual([
        { keys: ['late'], tags: {} },
      ])
    })

    it('readOrLock: an entry written under an older tag version is not fresh (the caller gets the lock)', async () => {
      const { store, write } = target()
      const now = Date.now()
      const entry = `tc1:${JSON.stringify({ c: 0, v: 1, f: now + 60_000, d: 0, t: { 't:red': 1 } })}`
      await write(k('tagged'), entry, 60_000)
      expect((await store.readOrLock(k('tagged'), 'a', 5000, now, { 't:red': 1 })).locked).toBe(false)
      expect((await store.readOrLock(k('tagged'), 'a', 5000, now, { 't:blue': 9 })).locked).toBe(false)
      const stale = await store.readOrLock(k('tagged'), 'b', 5000, now, { 't:red': 2 })
      expect(stale).toEqual({ text: entry, locked: true, fence: 0 })
    })

    it('forgets an entry once its TTL has passed', async () => {
      const { store, write, elapse } = target()
      await write(k('short'), 'tc1:x', 150)
      await write(k('long'), 'tc1:y', 60_000)
      expect(await store.getMany([k('short')])).toEqual(['tc1:x'])
      await elapse(300)
      expect(await store.getMany([k('short'), k('long')])).toEqual([undefined, 'tc1:y'])
    })
  })
}
