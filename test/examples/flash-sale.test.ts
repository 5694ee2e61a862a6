/**
 * examples/flash-sale on the real cluster through the proxy: the page is cached, purchases never
 * oversell and are one per user, and orders land in the queue.
 */
import { randomUUID } from 'node:crypto'
import { Redis } from '@upstash/redis'
import { createCache } from 'tiercache'
import { createQueue } from 'tiercache/queue'
import { createStock } from 'tiercache/stock'
import { afterAll, beforeAll, expect, inject, it } from 'vitest'
import { createFlashSaleApp } from '../../examples/flash-sale/app.js'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { startTestProxy, TOKENS } from '../helpers/proxy.js'
import { startRelay } from '../helpers/tcp-relay.js'

let proxy: RunningProxy
beforeAll(async () => {
  proxy = await startTestProxy({ redis: inject('clusterUrl') })
})
afterAll(() => proxy.close('1s'))

it('page cached; 30 buyers for 10 items: 10 orders, then sold out; one per user', async () => {
  const redis = { url: proxy.url, token: TOKENS.standard }
  const sale = randomUUID()
  const stock = createStock({ redis, namespace: `sale-${sale}` })
  const orders = createQueue({ redis, name: `orders-${sale}` })
  await stock.init('console', 10)
  const app = createFlashSaleApp(createCache({ redis, namespace: `sale-${sale}` }), stock, orders)
  expect((await app.request('/items/console')).headers.get('x-cache')).toBe('MISS')
  expect((await app.request('/items/console')).headers.get('x-cache')).toBe('HIT')
  const buy = async (user: string): Promise<Response> =>
    app.request('/items/console/buy', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user }),
    })
  const statuses = await Promise.all(Array.from({ length: 30 }, (_, i) => buy(`u${i}`).then((r) => r.status)))
  expect(statuses.filter((s) => s === 201)).toHaveLength(10)
  expect(statuses.filter((s) => s === 409)).toHaveLength(20)
  const again = await buy('u0')
  expect(again.status).toBe(409)
  expect((await buy('')).status).toBe(400)
  // An item name the stock counter refuses: 400 with the reason (it was a bare 500).
  const refused = await app.request('/items/a%7Bb%7D/buy', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'ada' }),
  })
  expect(refused.status).toBe(400)
  expect(await refused.json()).toEqual({ error: 'Invalid option item: must not contain braces' })
  expect((await app.request('/items/a%7Bb%7D')).status).toBe(400)
  const processed: unknown[] = []
  expect((await orders.drain((m) => void processed.push(m.payload), { group: 'payments' })).handled).toBe(10)
  expect(await stock.left('console')).toBe(0)
})

it('a purchase whose order could not be queued is completed by the retry with its Idempotency-Key', async () => {
  const redis = { url: proxy.url, token: TOKENS.standard }
  const sale = randomUUID()
  const stock = createStock({ redis, namespace: `sale-${sale}` })
  await stock.init('console', 10)
  // The order queue is reached through a relay that loses answers: both of the client's tries
  // (@upstash/redis tries twice even with retry: false) run the XADD and lose its answer, so the
  // order fails as far as the app can tell.
  const relay = await startRelay(Number(new URL(proxy.url).port))
  try {
    const client = new Redis({
      url: `http://127.0.0.1:${relay.port}`,
      token: TOKENS.standard,
      retry: false,
      automaticDeserialization: false,
    })
    const orders = createQueue({ redis: client, name: `orders-${sale}` })
    const app = createFlashSaleApp(createCache({ redis, namespace: `sale-${sale}` }), stock, orders)
    const buy = (user: string, key?: string) =>
      app.request('/items/console/buy', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
        body: JSON.stringify({ user }),
      })
    relay.loseAnswerTo('buyer-ada', 2)
    const first = await buy('buyer-ada', 'checkout-1')
    expect(first.status).toBe(500)
    expect(relay.lost).toBe(2)
    // The client retries the same purchase: 201, the same unit (9 left, not 8).
    const retried = await buy('buyer-ada', 'checkout-1')
    expect(retried.status).toBe(201)
    expect(await retried.json()).toMatchObject({ ok: true, left: 9, purchase: 'checkout-1' })
    // A new purchase by the same buyer is refused, as before.
    expect((await buy('buyer-ada', 'checkout-2')).status).toBe(409)
    expect((await buy('buyer-ada')).status).toBe(409)
    expect(await stock.left('console')).toBe(9)
    // The order reached the queue (three times: the two lost XADDs ran), all one purchase.
    const payloads: Array<{ purchase: string }> = []
    await orders.drain<{ purchase: string }>((m) => void payloads.push(m.payload), { group: 'payments' })
    expect(payloads.length).toBeGreaterThanOrEqual(1)
    expect(new Set(payloads.map((p) => p.purchase))).toEqual(new Set(['checkout-1']))
  } finally {
    await relay.close()
  }
})
