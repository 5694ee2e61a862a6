/**
 * A Cloudflare Worker using tiercache: a product API whose responses are cached whole (L1 in the
 * isolate, tier 2 in Redis over HTTP), with `getOrLoad` for the product itself.
 *   npx wrangler dev                        (reads ./wrangler.toml at the repository root)
 *   wrangler secret put UPSTASH_REDIS_REST_URL; wrangler secret put UPSTASH_REDIS_REST_TOKEN
 */
import { withCache } from 'tiercache/edge'

interface Env {
  UPSTASH_REDIS_REST_URL: string
  UPSTASH_REDIS_REST_TOKEN: string
}

export default withCache<Env>(
  {
    async fetch(request, _env, { cache }) {
      const id = /^\/products\/(\d{1,9})$/.exec(new URL(request.url).pathname)?.[1]
      if (!id) return Response.json({ error: 'GET /products/:id' }, { status: 404 })
      const product = await cache.getOrLoad(`product:${id}`, async () => ({
        id: Number(id),
        name: `product ${id}`,
        loadedAt: new Date().toISOString(),
      }))
      return Response.json(product)
    },
  },
  { cache: { namespace: 'worker-example', timeouts: { l2: '1s' } }, responses: { ttl: '30s' } },
)
