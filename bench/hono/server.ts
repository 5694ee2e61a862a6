/**
 * One server of the Hono benchmark, in a process of its own: the same route bare, or behind
 * tiercache's cacheMiddleware (in-memory tier 2: every request after the first is an L1 HIT).
 * argv: 'bare' | 'cached', port. Prints "ready" when listening.
 */
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { cacheMiddleware } from '../../adapters/hono/index.js'
import { createCache } from '../../src/index.js'

const [mode, port] = process.argv.slice(2) as ['bare' | 'cached', string]
const product = { id: 42, name: 'lamp', price: 129, tags: ['home', 'light'], stock: 17 }
const app = new Hono()
if (mode === 'cached') app.use('/products/*', cacheMiddleware({ cache: createCache(), ttl: '1h' }))
app.get('/products/:id', (c) => c.json({ ...product, id: Number(c.req.param('id')) }))
serve({ fetch: app.fetch, port: Number(port), hostname: '127.0.0.1' }, () => process.stdout.write('ready\n'))
process.on('SIGINT', () => process.exit(0))
