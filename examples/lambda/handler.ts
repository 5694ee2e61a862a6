/**
 * An AWS Lambda function behind API Gateway (REST or HTTP API), a Function URL or an ALB, with
 * tiercache: one cache per warm container, whole responses cached, background work finished
 * before the function returns. Tier 2 from UPSTASH_REDIS_REST_URL / _TOKEN (in-memory without).
 *   npx tsx examples/lambda/invoke.ts      (invokes it locally with an HTTP API event)
 */
import { withCache } from 'tiercache/lambda'

const url = process.env.UPSTASH_REDIS_REST_URL
const token = process.env.UPSTASH_REDIS_REST_TOKEN

/** A slow source of truth. */
async function loadProduct(id: string) {
  await new Promise((r) => setTimeout(r, 50))
  return { id, name: `product ${id}`, loadedAt: new Date().toISOString() }
}

export const handler = withCache(
  async (event: { pathParameters?: { id?: string } | null }, { cache }) => {
    const id = event.pathParameters?.id
    if (!id) return { statusCode: 400, body: JSON.stringify({ error: 'GET /products/{id}' }) }
    const product = await cache.getOrLoad(`product:${id}`, () => loadProduct(id))
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(product) }
  },
  {
    cache: { ...(url && token ? { redis: { url, token } } : {}), namespace: 'lambda-example', ttl: '5m' },
    responses: { ttl: '30s' },
  },
)
