/**
 * Tier 2 over HTTP with the Upstash REST protocol (`@upstash/redis`): the same code on Node,
 * Lambda, Workers and Vercel Edge, against Upstash or against tiercache's own proxy.
 */
import { Redis } from '@upstash/redis'
import type { TierTwoStore } from './store.js'

/** Where tier 2 is: an `@upstash/redis` client, or its URL and token. */
export type RedisConnection = Redis | { url: string; token: string }

/**
 * The store over an Upstash client. A client the user built keeps its own settings (entries are
 * stored as text no JSON parser accepts, so automatic deserialization leaves them alone); one
 * built here from `{ url, token }` does not retry: a failing tier 2 must fail fast (the cache
 * falls back to the loader and its circuit breaker takes over).
 */
export class UpstashStore implements TierTwoStore {
  /** The client, for callers that share it (locks, queues). */
  readonly redis: Redis

  constructor(connection: RedisConnection) {
    this.redis =
      connection instanceof Redis
        ? connection
        : new Redis({
            url: connection.url,
            token: connection.token,
            automaticDeserialization: false,
            retry: false,
          })
  }

  async getMany(keys: string[]): Promise<Array<string | undefined>> {
    if (keys.length === 0) return []
    // One MGET: the proxy splits it by slot in a cluster and merges the answers in order.
    const values = await this.redis.mget<Array<string | null>>(...keys)
    return values.map((v) => (typeof v === 'string' ? v : undefined))
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.redis.set(key, value, { px: Math.max(1, Math.round(ttlMs)) })
  }

  async delete(keys: string[]): Promise<void> {
    if (keys.length > 0) await this.redis.del(...keys)
  }
}
