/**
 * The `redis` option of the cache, the lock, the queue and the stock counter: a client, or
 * `{ url, token }` checked before any request (@upstash/redis alone only warns about a missing
 * token, and every request then fails).
 */
import { Redis } from '@upstash/redis'
import { describe, expect, it, vi } from 'vitest'
import { createLock } from '../src/lock/lock.js'
import { createQueue } from '../src/queue/queue.js'
import { createStock } from '../src/stock/stock.js'
import { type RedisConnection, upstashClient } from '../src/upstash-client.js'

describe('upstashClient', () => {
  it('hands back a client it is given, of this copy of @upstash/redis or one that looks like it', () => {
    const client = new Redis({ url: 'http://127.0.0.1:8079', token: 't' })
    expect(upstashClient(client)).toBe(client)
    // A client from another installed copy fails instanceof; its methods identify it.
    const lookalike = { createScript: () => ({}), pipeline: () => ({}) }
    expect(upstashClient(lookalike)).toBe(lookalike)
  })

  it('builds a client from { url, token }, with no console warning', () => {
    const warn = vi.spyOn(console, 'warn')
    try {
      expect(upstashClient({ url: 'https://example.upstash.io', token: 't' })).toBeInstanceOf(Redis)
      expect(upstashClient({ url: 'http://127.0.0.1:8079', token: 't' })).toBeInstanceOf(Redis)
      const asUrl: RedisConnection = { url: new URL('http://127.0.0.1:8079'), token: 't' }
      expect(upstashClient(asUrl)).toBeInstanceOf(Redis)
      expect(warn).not.toHaveBeenCalled()
    } finally {
      warn.mockRestore()
    }
  })

  it('names what is wrong, under the option name it is given', () => {
    expect(() => upstashClient({ url: 'ftp://x', token: 't' }, 'tierTwo')).toThrowError(
      /^Invalid option tierTwo\.url: must be an http\(s\) REST URL, got "ftp:\/\/x"$/,
    )
    expect(() => upstashClient({ url: 'not a url', token: 't' })).toThrowError(/^Invalid option redis\.url/)
    expect(() => upstashClient({ url: 42, token: 't' })).toThrowError(/^Invalid option redis\.url: .*got 42$/)
    expect(() => upstashClient({ url: 'http://127.0.0.1:1', token: 7 })).toThrowError(
      /^Invalid option redis\.token: must be a non-empty string, got 7$/,
    )
    expect(() => upstashClient(undefined)).toThrowError(/^Invalid option redis: .*got undefined$/)
    expect(() => upstashClient({})).toThrowError(
      /^Invalid option redis: must be an @upstash\/redis client or \{ url, token \}, got object$/,
    )
  })

  it('is what the lock, the queue and the stock counter check their redis option with', () => {
    const noToken = { url: 'http://127.0.0.1:8079' } as { url: string; token: string }
    expect(() => createLock({ redis: noToken })).toThrowError(/^Invalid option redis\.token/)
    expect(() => createQueue({ redis: noToken, name: 'q' })).toThrowError(/^Invalid option redis\.token/)
    expect(() => createStock({ redis: noToken })).toThrowError(/^Invalid option redis\.token/)
  })
})
