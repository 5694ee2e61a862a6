/**
 * `npm start`: the demo app on Node. With no Redis configured, tier 2 is the embedded in-memory
 * store; with `UPSTASH_REDIS_REST_URL` and `UPSTASH_REDIS_REST_TOKEN` set (Upstash, or the
 * tiercache proxy: `npm run demo:cluster`), it is Redis over HTTP.
 * Environment: PORT (3000), DEMO_LATENCY_MS (80), DEMO_FAILURE_RATE (0.02).
 */
import { serve } from '@hono/node-server'
import { type Cache, createCache, InvalidOptionError } from 'tiercache'
import { createDemoApp } from './app.js'
import { createDatabase } from './database.js'

const url = process.env.UPSTASH_REDIS_REST_URL
const token = process.env.UPSTASH_REDIS_REST_TOKEN
if (url && !token) {
  console.error('UPSTASH_REDIS_REST_URL is set but UPSTASH_REDIS_REST_TOKEN is not: set both, or neither')
  process.exit(1)
}
let cache: Cache
try {
  cache = createCache({
    ...(url && token ? { redis: { url, token } } : {}),
    namespace: 'demo',
    ttl: '5m',
    grace: '1m',
  })
} catch (error) {
  if (!(error instanceof InvalidOptionError)) throw error
  // The options here are fixed but for the two variables: a bad value came from one of them.
  console.error(`UPSTASH_REDIS_REST_URL / UPSTASH_REDIS_REST_TOKEN: ${error.message}`)
  process.exit(1)
}
const db = createDatabase({
  latencyMs: Number(process.env.DEMO_LATENCY_MS ?? 80),
  failureRate: Number(process.env.DEMO_FAILURE_RATE ?? 0.02),
})
const app = createDemoApp(cache, db)
const server = serve(
  { fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: '127.0.0.1' },
  (info) => {
    const base = `http://127.0.0.1:${info.port}`
    console.log(`tiercache demo listening on ${base}
tier 2: ${url ? `Redis over HTTP at ${url}` : 'the embedded in-memory store (no Redis needed)'}

Try:
  curl -i ${base}/products/42                 # getOrLoad: the database once, then L1
  curl -i ${base}/products?page=2             # whole response cached: x-cache MISS, then HIT
  curl -i ${base}/products/999999             # guarded: 404 without a database query
  curl -i -X PUT -H 'content-type: application/json' -d '{"price": 99}' ${base}/products/42
  curl -s ${base}/stats

Ctrl-C stops it.`)
  },
)
const stop = () => server.close(() => process.exit(0))
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
