/**
 * Vercel Edge Middleware (or any fetch-style runtime) with tiercache: whole responses of the
 * origin cached at the edge, background work handed to the platform's waitUntil.
 * In a Next.js or Vercel project this file is `middleware.ts` at the root.
 */
import { cacheFetch } from 'tiercache/edge'

export const config = { matcher: '/api/products/:path*' }

const handler = cacheFetch(async (request) => fetch(request), {
  cache: {
    redis: {
      url: process.env.UPSTASH_REDIS_REST_URL ?? '',
      token: process.env.UPSTASH_REDIS_REST_TOKEN ?? '',
    },
    namespace: 'edge',
  },
  responses: { ttl: '30s' },
})

export default function middleware(
  request: Request,
  context: { waitUntil(promise: Promise<unknown>): void },
) {
  return handler(request, context)
}
