/**
 * The demo app: a small catalogue API on Hono with tiercache in front of a slow database.
 * - `GET /products?page=n`: whole responses cached by the middleware (tag `products`);
 * - `GET /products/:id`: `c.var.cache.getOrLoad` with a Bloom-filter guard (unknown ids never
 *   reach the database) and null caching;
 * - `PUT /products/:id` `{ "price": n }`: the database first, then `cache.write` (tombstones,
 *   the invalidation stream every instance follows, and the `products` tag);
 * - `GET /stats`: the cache's counters and the database's.
 */
import { Hono } from 'hono'
import type { Cache } from 'tiercache'
import { createGuard } from 'tiercache/guard'
import { cacheMiddleware } from 'tiercache/hono'
import type { Database } from './database.js'

const PAGE_SIZE = 20

/** Builds the demo app over a cache and a database. */
export function createDemoApp(cache: Cache, db: Database) {
  const products = cache.namespace('product')
  const known = createGuard(cache, 'product-ids', { expected: 100_000, fpRate: 0.01 })
  // Fed from the source of truth: one batch (one tier-2 call, then one to load the mirror); ids
  // created later are added as written.
  // With tier 2 unreachable the add fails: the guard then answers "maybe" (it never blocks a real
  // id) and the app serves on, from the loader, like the cache.
  const ready = known.add(db.ids().map(String)).catch((error: unknown) => {
    console.warn(`demo: the guard could not reach tier 2 (${(error as Error).message}); serving without it`)
  })

  const app = new Hono()
  app.use('*', async (_c, next) => {
    await ready
    await next()
  })
  app.get('/', (c) =>
    c.text(
      [
        'tiercache demo: a catalogue over a slow database (see /stats)',
        'GET /products?page=1    a page, whole response cached (x-cache: MISS, then HIT)',
        'GET /products/42        one product through getOrLoad',
        'GET /products/999999    an id that exists nowhere: answered by the guard, no database query',
        'PUT /products/42        {"price": 99}: the database, then cache.write',
        'GET /stats              hits by tier, loads, stale served, guarded absents',
      ].join('\n'),
    ),
  )
  app.get('/products', cacheMiddleware({ cache, ttl: '30s', tags: ['products'] }), async (c) => {
    const page = Math.max(1, Number.parseInt(c.req.query('page') ?? '1', 10) || 1)
    return c.json({ page, products: await db.list((page - 1) * PAGE_SIZE, PAGE_SIZE) })
  })
  app.get('/products/:id', async (c) => {
    const id = c.req.param('id')
    if (!/^\d{1,9}$/.test(id)) return c.json({ error: 'an id is a number' }, 400)
    const product = await products.getOrLoad(id, () => db.find(Number(id)), {
      guard: known,
      tags: ['products'],
    })
    return product ? c.json(product) : c.json({ error: `no product ${id}` }, 404)
  })
  app.put('/products/:id', async (c) => {
    const id = c.req.param('id')
    const body = await c.req.json().catch(() => undefined)
    const price = (body as { price?: unknown } | undefined)?.price
    if (!/^\d{1,9}$/.test(id) || typeof price !== 'number' || !(price >= 0))
      return c.json({ error: 'PUT /products/:id with {"price": <a number ≥ 0>}' }, 400)
    const updated = await products.write(id, () => db.update(Number(id), { price }), { tags: ['products'] })
    return updated ? c.json(updated) : c.json({ error: `no product ${id}` }, 404)
  })
  app.get('/stats', (c) => c.json({ cache: cache.stats(), database: db.stats }))
  app.onError((error, c) => c.json({ error: error.message }, 503))
  return app
}
