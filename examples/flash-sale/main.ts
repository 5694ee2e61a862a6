/**
 * Runs the flash sale against Redis over HTTP (the stock and the queue need a real Redis: start
 * one with `npm run demo:cluster`, or set UPSTASH_REDIS_REST_URL / _TOKEN), with 100 consoles on
 * sale, and drains the order queue every second.
 *   UPSTASH_REDIS_REST_URL=http://127.0.0.1:8079 UPSTASH_REDIS_REST_TOKEN=dev-token npx tsx examples/flash-sale/main.ts
 */
import { serve } from '@hono/node-server'
import { createCache } from 'tiercache'
import { createQueue } from 'tiercache/queue'
import { createStock } from 'tiercache/stock'
import { createFlashSaleApp } from './app.js'

const url = process.env.UPSTASH_REDIS_REST_URL
const token = process.env.UPSTASH_REDIS_REST_TOKEN
if (!url || !token) {
  console.error(
    'set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN (npm run demo:cluster starts a local proxy)',
  )
  process.exit(1)
}
const redis = { url, token }
const stock = createStock({ redis, namespace: 'flash-sale' })
const orders = createQueue({ redis, name: 'flash-sale-orders' })
// initIfAbsent, not init: a restart (or a second instance) must not put back on sale what was sold.
await stock.initIfAbsent('console', 100)
const app = createFlashSaleApp(createCache({ redis, namespace: 'flash-sale' }), stock, orders)
const port = Number(process.env.PORT ?? 3001)
serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () => {
  console.log(`flash sale on http://127.0.0.1:${port}
  curl http://127.0.0.1:${port}/items/console
  curl -X POST -H 'content-type: application/json' -d '{"user":"ada"}' http://127.0.0.1:${port}/items/console/buy`)
})
setInterval(async () => {
  const done = await orders.drain(async ({ payload }) => console.log('order processed', payload), {
    maxMs: 800,
  })
  if (done.handled) console.log(done)
}, 1000).unref()
