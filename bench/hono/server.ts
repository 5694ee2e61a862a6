/**
 * One server of the Hono benchmark, in a process of its own: the same route bare, behind
 * tiercache's cacheMiddleware (in-memory tier 2: every request after the first is an L1 HIT), or
 * behind the floor middleware (below), or wrapped in cached(). argv: 'bare' | 'cached' | 'floor' | 'wrapped', port. Prints "ready".
 */
import { serve } from '@hono/node-server'
import { type Context, Hono } from 'hono'
import { cached, cacheMiddleware } from '../../adapters/hono/index.js'
import { createCache } from '../../src/index.js'

const [mode, port] = process.argv.slice(2) as ['bare' | 'cached' | 'floor' | 'wrapped', string]
const product = { id: 42, name: 'lamp', price: 129, tags: ['home', 'light'], stock: 17 }
const app = new Hono()
if (mode === 'cached') app.use('/products/*', cacheMiddleware({ cache: createCache(), ttl: '1h' }))
if (mode === 'floor') {
  // The floor of any caching middleware: an async middleware that answers a prebuilt body with the
  // headers a HIT carries (same names, same lengths) and does no cache work at all.
  const body = JSON.stringify(product)
  const headers = {
    'content-type': 'application/json',
    date: new Date().toUTCString(), // a HIT's is the Date its response was stored
    etag: '"jyMRyR_oUv-u6GH1RtwSl1aar5E"',
    'x-cache': 'HIT',
    'server-timing': 'tiercache;desc="HIT l1";dur=0.01',
  }
  app.use('/products/*', async () => new Response(body, { status: 200, headers }))
}
const route = (c: Context) => c.json({ ...product, id: Number(c.req.param('id')) })
// The same route wrapped in cached(): one handler, so a hit needs no middleware chain.
app.get('/products/:id', mode === 'wrapped' ? cached({ cache: createCache(), ttl: '1h' })(route) : route)
serve({ fetch: app.fetch, port: Number(port), hostname: '127.0.0.1' }, () => process.stdout.write('ready\n'))
process.on('SIGINT', () => process.exit(0))
