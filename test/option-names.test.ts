/**
 * Unknown option names are refused everywhere options are taken, with the near miss: ignored,
 * a misspelt name would leave its default in force without a word. (The cache's own and the
 * response cache's are in test/cache/cache.test.ts and test/adapters/hono.test.ts.)
 */
import { describe, expect, it } from 'vitest'
import { createCache } from '../src/cache/create-cache.js'
import { createGuard } from '../src/guard/for-cache.js'
import { createLock } from '../src/lock/lock.js'
import { checkOptionNames, describeValue, nearMiss } from '../src/option-names.js'
import { startProxy } from '../src/proxy/proxy.js'
import { createQueue } from '../src/queue/queue.js'
import { createStock } from '../src/stock/stock.js'

const redis = { url: 'http://127.0.0.1:8079', token: 't' }

describe('checkOptionNames', () => {
  it('passes known names, refuses the first unknown one with the list and a near miss by case', () => {
    expect(() => checkOptionNames({ a: 1, bCd: 2 }, ['a', 'bCd'])).not.toThrow()
    expect(() => checkOptionNames({}, [])).not.toThrow()
    expect(() => checkOptionNames({ a: 1, bcd: 2 }, ['a', 'bCd'])).toThrowError(
      /^Invalid option bcd: is not an option \(did you mean bCd\?\); known: a, bCd$/,
    )
    expect(() => checkOptionNames({ zz: 1 }, ['a'], 'group')).toThrowError(
      /^Invalid option group\.zz: is not an option; known: a$/,
    )
    // Own properties only: what an object inherits is not an option it was given.
    expect(() => checkOptionNames(Object.create({ inherited: 1 }), ['a'])).not.toThrow()
  })
})

describe('nearMiss', () => {
  it('finds the name meant: case first, else one edit (short names) or two (longer), never a tie', () => {
    const known = ['group', 'consumer', 'count', 'maxStaleness', 'ttl', 'nullTtl', 'tags']
    expect(nearMiss('grup', known)).toBe('group') // a letter left out
    expect(nearMiss('consumre', known)).toBe('consumer') // two swapped: two edits
    expect(nearMiss('maxStalness', known)).toBe('maxStaleness')
    expect(nearMiss('MAXSTALENESS', known)).toBe('maxStaleness')
    expect(nearMiss('tll', known)).toBe('ttl')
    expect(nearMiss('nulTtl', known)).toBe('nullTtl')
    // Too far, or as near to two names: no guess.
    expect(nearMiss('ttlMs', known)).toBe('ttl')
    expect(nearMiss('expiry', known)).toBeUndefined()
    expect(nearMiss('cunt', known)).toBe('count')
    expect(nearMiss('tag', ['tags', 'tab'])).toBeUndefined()
    expect(nearMiss('zzzz', known)).toBeUndefined()
    expect(() => checkOptionNames({ grup: 1 }, known)).toThrowError(
      /^Invalid option grup: is not an option \(did you mean group\?\); known: /,
    )
  })
})

describe('describeValue', () => {
  it('shows a value as an error message should, never throwing', () => {
    expect(['x', 5, true, undefined, 10n, null, [1], {}, () => 1, Symbol('s')].map(describeValue)).toEqual([
      '"x"',
      '5',
      'true',
      'undefined',
      '10n',
      'null',
      'an array',
      'object',
      'function',
      'symbol',
    ])
    expect(() => checkOptionNames(10n, [])).toThrowError(
      /^Invalid option options: must be an object, got 10n$/,
    )
  })
})

describe('where options are taken', () => {
  it("the cache's per-call options: getOrLoad (on a miss), set, getMany and write, before any load or write", async () => {
    const cache = createCache()
    let loads = 0
    const loader = async () => ++loads
    await expect(cache.getOrLoad('a', loader, { TTL: '1m' } as never)).rejects.toThrowError(
      /^Invalid option TTL: is not an option \(did you mean ttl\?\); known: ttl, refresh, nullTtl, tags, guard, forceFresh$/,
    )
    await expect(cache.getOrLoad('a', loader, { forcefresh: true } as never)).rejects.toThrowError(
      /did you mean forceFresh\?/,
    )
    // A write has no cached value to skip: forceFresh there is refused, not ignored.
    await expect(cache.set('a', 1, { forceFresh: true } as never)).rejects.toThrowError(
      /^Invalid option forceFresh: is not an option; known: ttl, refresh, nullTtl, tags, guard$/,
    )
    await expect(cache.getOrLoad('a', loader, '1m' as never)).rejects.toThrowError(
      /^Invalid option options: must be an object, got "1m"$/,
    )
    await expect(cache.set('a', 1, { tag: ['x'] } as never)).rejects.toThrowError(
      /^Invalid option tag: is not an option/,
    )
    await expect(cache.getMany(['a'], async () => [1], { nullttl: '1s' } as never)).rejects.toThrowError(
      /did you mean nullTtl\?/,
    )
    let written = false
    await expect(
      cache.write(
        'a',
        () => {
          written = true
        },
        { double: '1s' } as never,
      ),
    ).rejects.toThrowError(/^Invalid option double: is not an option; known: tags, doubleDelete$/)
    expect(loads).toBe(0)
    expect(written).toBe(false)
    // Known names pass.
    expect(await cache.getOrLoad('a', loader, { ttl: '1m', tags: ['t'] })).toBe(1)
  })

  it('the lock, its acquire and its retry', async () => {
    expect(() => createLock({ redis, ownr: 'me' } as never)).toThrowError(
      /^Invalid option ownr: is not an option/,
    )
    const lock = createLock({ redis })
    await expect(lock.acquire('x', { TTL: '1s' } as never)).rejects.toThrowError(/did you mean ttl\?/)
    await expect(lock.acquire('x', { retry: { min: '1ms' } } as never)).rejects.toThrowError(
      /^Invalid option retry\.min: is not an option; known: base, max$/,
    )
  })

  it('the queue, consume and drain', async () => {
    expect(() => createQueue({ redis, name: 'q', group: 'g' } as never)).toThrowError(
      /^Invalid option group: is not an option; known: redis, name, namespace$/,
    )
    const queue = createQueue({ redis, name: 'q' })
    await expect(queue.drain(() => {}, { maxmessages: 5 } as never)).rejects.toThrowError(
      /did you mean maxMessages\?/,
    )
    // maxMessages belongs to drain, not to consume.
    await expect(
      queue.consume(() => {}, { signal: new AbortController().signal, maxMessages: 5 } as never),
    ).rejects.toThrowError(/^Invalid option maxMessages: is not an option/)
  })

  it('the proxy, before it connects or listens', async () => {
    await expect(startProxy({ tokens: [{ token: 't' }], maxbodybytes: 10 } as never)).rejects.toThrowError(
      /^Invalid option maxbodybytes: is not an option \(did you mean maxBodyBytes\?\)/,
    )
    for (const port of [65536, -1, 1.5, '8079'])
      await expect(startProxy({ tokens: [{ token: 't' }], port: port as number })).rejects.toThrowError(
        /^Invalid option port: must be an integer from 0 to 65535/,
      )
    await expect(startProxy({ tokens: [{ token: 't' }], host: '' })).rejects.toThrowError(
      /^Invalid option host:/,
    )
  })

  it('the stock counter and the guard', () => {
    expect(() => createStock({ redis, prefix: 'x' } as never)).toThrowError(
      /^Invalid option prefix: is not an option/,
    )
    const cache = createCache()
    expect(() => createGuard(cache, 'ids', { expected: 100, fprate: 0.01 } as never)).toThrowError(
      /^Invalid option fprate: is not an option \(did you mean fpRate\?\)/,
    )
  })
})
