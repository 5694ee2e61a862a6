import { Redis } from '@upstash/redis'
import { afterAll, beforeAll, expect, inject, it } from 'vitest'
import { UpstashStore } from '../../src/cache/upstash-store.js'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { startTestProxy, TOKENS } from '../helpers/proxy.js'
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
