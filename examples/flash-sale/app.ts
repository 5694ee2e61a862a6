/**
 * A flash sale on Hono: the product page is cached (whole responses, tier 1 + tier 2), the
 * purchase goes to the atomic stock counter (never oversold, one per user), and each order is
 * queued for the slow work (payment, e-mail) that a consumer drains.
 *   GET  /items/:item            the product page (x-cache: MISS, then HIT), with the stock left
 *   POST /items/:item/buy        { "user": "ada" } → 201, or 409 sold_out / already_bought
 * A client that may send a purchase twice (it retries after a timeout) sends an `Idempotency-Key`
 * header: the same purchase again answers 201 as the first did (and queues its order, if the first
 * could not), where a new purchase by the same user is 409 already_bought.
 */
import { Hono } from 'hono'
import { type Cache, InvalidOptionError } from 'tiercache'
import { cacheMiddleware } from 'tiercache/hono'
import type { Queue } from 'tiercache/queue'
import type { Stock } from 'tiercache/stock'

/** Builds the flash-sale app over a cache, a stock counter and an order queue. */
export function createFlashSaleApp(cache: Cache, stock: Stock, orders: Queue) {
  const app = new Hono()
  // An item name the stock counter refuses (braces would move its keys to another slot) is the
  // client's mistake: 400 with the reason, not a 500.
  app.onError((error, c) => {
    if (error instanceof InvalidOptionError) return c.json({ error: error.message }, 400)
    console.error(error)
    return c.json({ error: 'internal error' }, 500)
  })
  // The page is cached whole for a few seconds, so the count it shows may be that old: the
  // purchase below is what checks the live count.
  app.get('/items/:item', cacheMiddleware({ cache, ttl: '5s' }), async (c) => {
    const item = c.req.param('item')
    const page = await cache.getOrLoad(`page:${item}`, async () => ({
      item,
      title: `The ${item}`,
      price: 499,
    }))
    return c.json({ ...page, left: await stock.left(item) })
  })
  app.post('/items/:item/buy', async (c) => {
    const item = c.req.param('item')
    const body = (await c.req.json().catch(() => ({}))) as { user?: unknown }
    if (typeof body.user !== 'string' || body.user === '')
      return c.json({ error: 'POST {"user": "<id>"}' }, 400)
    const purchase = c.req.header('idempotency-key') || crypto.randomUUID()
    const result = await stock.take(item, body.user, 1, { id: purchase })
    if (!result.ok) return c.json(result, 409)
    // The stock and the queue live in different slots: no script can do both. When the order
    // cannot be queued, the purchase stands and the client's retry with its key queues it. An
    // order may so be queued twice (and the queue delivers at least once): consumers dedupe on
    // `purchase`.
    const [order] = await orders.add({ item, user: body.user, purchase })
    return c.json({ ...result, purchase, order }, 201)
  })
  return app
}
