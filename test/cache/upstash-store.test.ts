import { Redis } from '@upstash/redis'
import { afterAll, beforeAll, expect, inject, it } from 'vitest'
import { createCache } from '../../src/cache/create-cache.js'
import { UpstashStore } from '../../src/cache/upstash-store.js'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { startTestProxy, TOKENS } from '../helpers/proxy.js'
import { startRelay } from '../helpers/tcp-relay.js'
import { storeContract } from './store-contract.js'

// The real @upstash/redis client, through the proxy, on the real local cluster.
let proxy: RunningProxy
let store: UpstashStore
/** Writes fixtures' text as given (the store itself never writes an entry without a fence). */
let raw: Redis
beforeAll(async () => {
  proxy = await startTestProxy({ redis: inject('clusterUrl') })
  store = new UpstashStore({ url: proxy.url, token: TOKENS.standard })
  raw = new Redis({ url: proxy.url, token: TOKENS.standard, automaticDeserialization: false })
})
afterAll(() => proxy.close('1s'))

storeContract('upstash (proxy + cluster)', () => ({
  store,
  write: async (key, text, ttlMs) => {
    await raw.set(key, text, { px: ttlMs })
  },
  // Redis expires keys on its own clock: real time has to pass (a short TTL keeps it brief).
  elapse: (ms) => new Promise((r) => setTimeout(r, ms)),
}))

it('a client built by the user, with automatic deserialization on, still gets the stored text back', async () => {
  const userClient = new Redis({ url: proxy.url, token: TOKENS.standard })
  const shared = new UpstashStore(userClient)
  await raw.set('contract-user-client', 'tc1:{"v":{"a":1},"f":1,"d":0,"c":0}', { px: 60_000 })
  expect(await shared.getMany(['contract-user-client'])).toEqual(['tc1:{"v":{"a":1},"f":1,"d":0,"c":0}'])
})

it('a miss whose read-or-lock answer was lost, sent again by the client, loads at once and fills tier 2', async () => {
  // @upstash/redis tries twice even with retry: false. The script's second run found the rebuild
  // lock held (by its own first run) and said so: the caller waited out rebuild.wait (5 s) for a
  // fill of its own that never came, and every instance after it waited on that lock.
  const relay = await startRelay(Number(new URL(proxy.url).port))
  try {
    const namespace = `lossy-${Date.now()}`
    const events: string[] = []
    const cache = createCache({
      redis: { url: `http://127.0.0.1:${relay.port}`, token: TOKENS.standard },
      namespace,
      onEvent: (e) => events.push(e.type),
    })
    // Scripts loaded on the key's node (same hash tag, same slot): the lost run is EVALSHA.
    await cache.getOrLoad('warm-up{lost-answer}', async () => 0)
    await cache.settled()
    relay.loseAnswerTo('key{lost-answer}')
    const started = Date.now()
    expect(await cache.getOrLoad('key{lost-answer}', async () => ({ price: 7 }))).toEqual({ price: 7 })
    expect(Date.now() - started).toBeLessThan(2000)
    expect(relay.lost).toBe(1)
    expect(events).not.toContain('rebuildWait')
    await cache.settled()
    // Filled and unlocked: another instance reads it from tier 2, no load, no wait.
    const other = createCache({ redis: { url: proxy.url, token: TOKENS.standard }, namespace })
    expect(await other.getOrLoad('key{lost-answer}', async () => ({ price: -1 }))).toEqual({ price: 7 })
    expect(other.stats()).toMatchObject({ hits: { l2: 1 }, rebuildWaits: 0, loads: 0 })
  } finally {
    await relay.close()
  }
})
