/**
 * tiercache behind a proxy token limited to a key prefix (one tenant of a shared cluster), on the
 * real cluster: every key the cache, the lock, the guard, the stock counter and the queue touch
 * must start with the tenant's prefix. The rebuild lock (`{key}:rebuild:key`) and the coherence
 * stream (`{prefix tiercache-sync}:...`) used to start with a brace, so the token was refused
 * every script and the cache ran with tier 2 cut off. Also: keys whose hash text holds a brace.
 */
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createCache } from '../../src/cache/create-cache.js'
import type { CacheEvent } from '../../src/cache/events.js'
import { createGuard } from '../../src/guard/index.js'
import { createLock } from '../../src/lock/lock.js'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { createQueue } from '../../src/queue/index.js'
import { createStock } from '../../src/stock/index.js'
import { startTestProxy, TOKENS } from '../helpers/proxy.js'

const TENANT_TOKEN = 'tenant-with-scripts'

let proxy: RunningProxy
beforeAll(async () => {
  proxy = await startTestProxy({
    redis: inject('clusterUrl'),
    tokens: [
      { token: TOKENS.standard },
      { token: TENANT_TOKEN, prefix: 'tenant-a:', scripts: true },
      { token: TOKENS.prefixed, prefix: 'tenant-a:' },
    ],
  })
})
afterAll(() => proxy.close('1s'))

/** A cache as a tenant makes it, and the tier-2 errors it meets. */
function tenantCache(token = TENANT_TOKEN, namespace = 'tenant-a') {
  const errors: string[] = []
  const ns = `${namespace}:${randomUUID().slice(0, 8)}`
  const cache = createCache({
    redis: { url: proxy.url, token },
    namespace: ns,
    timeouts: { l2: '2s' },
    onEvent: (event: CacheEvent) => {
      if (event.type === 'l2Error') errors.push(String((event.error as Error).message))
    },
  })
  return { cache, errors, ns }
}

describe('under a token limited to a key prefix', () => {
  it('the cache reaches tier 2: fills, hits from another instance, writes, tags, batches, coherence', async () => {
    const { cache, errors, ns } = tenantCache()
    let loads = 0
    const load = async () => ({ n: ++loads })
    expect(await cache.getOrLoad('user:1', load, { tags: ['users'] })).toEqual({ n: 1 })
    await cache.settled()
    // A second instance, same namespace: a tier-2 hit, no load.
    const other = createCache({ redis: { url: proxy.url, token: TENANT_TOKEN }, namespace: ns })
    expect(await other.getOrLoad('user:1', load)).toEqual({ n: 1 })
    expect(other.stats().hits.l2).toBe(1)
    await cache.write('user:1', async () => {})
    expect(await other.getOrLoad('user:1', load)).toEqual({ n: 2 })
    await cache.invalidateTags('users')
    expect(await cache.getMany(['user:2', 'user:3'], async (keys) => keys.map((k) => k))).toEqual([
      'user:2',
      'user:3',
    ])
    await cache.settled()
    await other.settled()
    expect(errors).toEqual([])
    expect(cache.stats()).toMatchObject({ l2Errors: 0, pendingInvalidations: 0, circuit: 'closed' })
    expect(other.stats()).toMatchObject({ l2Errors: 0, circuit: 'closed' })
  })

  it('the lock, the guard, the stock counter and the queue (under its namespace) work too', async () => {
    const id = randomUUID().slice(0, 8)
    const redis = { url: proxy.url, token: TENANT_TOKEN }
    expect(await createLock({ redis, namespace: 'tenant-a' }).withLock(`job-${id}`, async () => 'ran')).toBe(
      'ran',
    )
    const { cache } = tenantCache()
    const guard = createGuard(cache, 'users', { expected: 100 })
    await guard.add('user:1')
    await guard.rebuild(['user:1', 'user:2'])
    expect(guard.stats().loaded).toBe(true)
    const stock = createStock({ redis, namespace: 'tenant-a' })
    await stock.init(`tv-${id}`, 1)
    expect(await stock.take(`tv-${id}`, 'ada')).toEqual({ ok: true, left: 0 })
    const queue = createQueue({ redis, namespace: 'tenant-a', name: `jobs-${id}` })
    await queue.add([{ n: 1 }])
    expect(await queue.drain(() => {}, { group: 'g' })).toMatchObject({ handled: 1 })
  })

  it('without "scripts": true, the refusal says how to allow them', async () => {
    const { cache, errors } = tenantCache(TOKENS.prefixed)
    expect(await cache.getOrLoad('k', async () => 'loaded')).toBe('loaded') // fails open
    expect(errors[0]).toMatch(/scripts may reach undeclared keys.*allow them with "scripts": true/)
  })
})

describe('keys whose hash text holds a brace, on the cluster', () => {
  it('a stray "{" takes the rebuild lock in the entry\'s slot; a "}" with no tag is a refusal, not an outage', async () => {
    const { cache, errors, ns } = tenantCache(TOKENS.standard, 'braces')
    const other = createCache({ redis: { url: proxy.url, token: TOKENS.standard }, namespace: ns })
    // `p{q` has no tag (no "}"): hashed whole, as its lock now is. It used to work; it still does.
    expect(await cache.getOrLoad('p{q', async () => 'v')).toBe('v')
    await cache.settled()
    expect(await other.getOrLoad('p{q', async () => 'reloaded')).toBe('v')
    // `list:{}` (a JSON.stringify({}) key): its lock key, wrapped, cannot share its slot. Served by the loader;
    // Redis's CROSSSLOT counted as a refusal, so six of them do not open the breaker.
    for (let i = 0; i < 6; i++)
      expect(await cache.getOrLoad(`list:{}${'}'.repeat(i)}`, async () => i)).toBe(i)
    expect(errors.every((e) => /CROSSSLOT/.test(e))).toBe(true)
    expect(cache.stats().circuit).toBe('closed')
  })
})
