/**
 * The public API's types: value types flow from the loader to the result. Checked by `tsc`
 * (npm run typecheck) and run as ordinary assertions.
 */
import { describe, expect, expectTypeOf, it } from 'vitest'
import {
  type Cache,
  createCache,
  type LoadOptions,
  type TierTwoStore,
  type WriteOptions,
} from '../../src/index.js'

interface User {
  id: number
  name: string
}

describe('public types', () => {
  it('getOrLoad returns the loader’s type or null', () => {
    const cache = createCache()
    expectTypeOf(cache.getOrLoad('u', async (): Promise<User> => ({ id: 1, name: 'a' }))).toEqualTypeOf<
      Promise<User | null>
    >()
    expectTypeOf(cache.getOrLoad('n', () => 42)).toEqualTypeOf<Promise<number | null>>()
    expectTypeOf(
      cache.getOrLoad('m', async () => (Math.random() > 2 ? ('x' as string) : undefined)),
    ).toEqualTypeOf<Promise<string | null>>()
    expectTypeOf(cache.get<User>('u')).toEqualTypeOf<Promise<User | null | undefined>>()
    expectTypeOf(cache.peek<User>('u')).toEqualTypeOf<User | null | undefined>()
    expectTypeOf(cache.getMany<User>(['a'], async (keys) => keys.map(() => null))).toEqualTypeOf<
      Promise<Array<User | null | undefined>>
    >()
    expectTypeOf(cache.namespace('x')).toEqualTypeOf<Cache>()
  })

  it('forceFresh is a load option, not a write option', async () => {
    const cache = createCache()
    expectTypeOf<LoadOptions>().toMatchTypeOf<WriteOptions>()
    expectTypeOf(cache.getOrLoad('f', () => 1, { forceFresh: true })).toEqualTypeOf<Promise<number | null>>()
    // @ts-expect-error: set has no cached value to skip
    const write = cache.set('f', 1, { forceFresh: true })
    await expect(write).rejects.toThrowError(/Invalid option forceFresh/) // and at run time
  })

  it('a custom tier 2 is any object meeting the store contract', () => {
    const store: TierTwoStore = {
      getMany: async (keys) => keys.map(() => undefined),
      readOrLock: async () => ({ text: undefined, locked: true, fence: 0 }),
      fill: async () => true,
      unlock: async () => true,
      holdLock: async () => true,
      invalidate: async () => {},
      put: async () => {},
      notify: async () => [],
      readInvalidations: async () => ({ cursor: '', reset: false, entries: [] }),
      tagVersions: async (_sync, tags) => tags.map(() => 0),
    }
    expectTypeOf(createCache({ redis: store })).toEqualTypeOf<Cache>()
    // @ts-expect-error: a TTL must be a number or a duration string with a unit
    const invalid = () => createCache({ ttl: '10 minutes' })
    expect(invalid).toThrowError(/Invalid option ttl/) // and at run time, for JavaScript callers
  })
})
