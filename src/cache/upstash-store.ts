/**
 * Tier 2 over HTTP with the Upstash REST protocol (`@upstash/redis`): the same code on Node,
 * Lambda, Workers and Vercel Edge, against Upstash or against tiercache's own proxy.
 */
import type { Redis } from '@upstash/redis'
import { type RedisConnection, upstashClient } from '../upstash-client.js'
import { FILL, HOLD, PUT, READ_OR_LOCK, rebuildLockKey, TOMBSTONE, UNLOCK } from './rebuild-scripts.js'
import type { Invalidation, InvalidationBatch, ReadOrLock, TierTwoStore } from './store.js'
import { NOTIFY, READ_INVALIDATIONS, type SyncKeys, TAG_VERSIONS } from './sync-scripts.js'

/** What `@upstash/redis`'s `createScript` returns (its class is not exported). */
export interface ScriptRunner<T> {
  exec(keys: string[], args: string[]): Promise<T>
}

export type { RedisConnection }

/**
 * The store over an Upstash client. A client the user built keeps its own settings (entries are
 * stored as text no JSON parser accepts, so automatic deserialization leaves them alone); one
 * built here from `{ url, token }` has `retry: false`, so a failing tier 2 fails fast (the cache
 * falls back to the loader and its circuit breaker takes over) — though `@upstash/redis` still
 * sends a request a second time, at once, when its connection dies: every script here gives the
 * same outcome run twice.
 */
export class UpstashStore implements TierTwoStore {
  /** The client, for callers that share it (locks, queues). */
  readonly redis: Redis
  // @upstash/redis scripts: EVALSHA first, EVAL when a node answers NOSCRIPT (after a failover).
  readonly #readOrLockScript: ScriptRunner<[string | null, number, number]>
  readonly #fillScript: ScriptRunner<number>
  readonly #unlockScript: ScriptRunner<number>
  readonly #holdScript: ScriptRunner<number>
  readonly #tombstoneScript: ScriptRunner<number>
  readonly #putScript: ScriptRunner<number>
  readonly #notifyScript: ScriptRunner<[string, number[]]>
  readonly #readInvalidationsScript: ScriptRunner<[string, number, Array<[string, unknown[]]>]>
  readonly #tagVersionsScript: ScriptRunner<number[]>

  constructor(connection: RedisConnection) {
    this.redis = upstashClient(connection, 'redis', { retry: false })
    this.#readOrLockScript = this.redis.createScript<[string | null, number, number]>(READ_OR_LOCK)
    this.#fillScript = this.redis.createScript<number>(FILL)
    this.#unlockScript = this.redis.createScript<number>(UNLOCK)
    this.#holdScript = this.redis.createScript<number>(HOLD)
    this.#tombstoneScript = this.redis.createScript<number>(TOMBSTONE)
    this.#putScript = this.redis.createScript<number>(PUT)
    this.#notifyScript = this.redis.createScript(NOTIFY)
    this.#readInvalidationsScript = this.redis.createScript(READ_INVALIDATIONS)
    this.#tagVersionsScript = this.redis.createScript(TAG_VERSIONS)
  }

  async getMany(keys: string[]): Promise<Array<string | undefined>> {
    if (keys.length === 0) return []
    // One MGET: the proxy splits it by slot in a cluster and merges the answers in order.
    const values = await this.redis.mget<Array<string | null>>(...keys)
    return values.map((v) => (typeof v === 'string' ? v : undefined))
  }

  async readOrLock(
    key: string,
    token: string,
    lockTtlMs: number,
    now: number,
    tagVersions?: Record<string, number>,
  ): Promise<ReadOrLock> {
    const args = [token, String(Math.round(lockTtlMs)), String(now)]
    if (tagVersions) args.push(JSON.stringify(tagVersions))
    const [text, locked, fence] = await this.#readOrLockScript.exec([key, rebuildLockKey(key)], args)
    return {
      text: typeof text === 'string' ? text : undefined,
      locked: Number(locked) === 1,
      fence: Number(fence),
    }
  }

  async fill(key: string, value: string, ttlMs: number, fence: number, token: string): Promise<boolean> {
    const ttl = Number.isFinite(ttlMs) ? String(Math.max(1, Math.round(ttlMs))) : '0' // 0: no expiry
    return (
      Number(await this.#fillScript.exec([key, rebuildLockKey(key)], [value, ttl, String(fence), token])) ===
      1
    )
  }

  async unlock(key: string, token: string): Promise<boolean> {
    return Number(await this.#unlockScript.exec([key, rebuildLockKey(key)], [token])) === 1
  }

  async holdLock(key: string, token: string, ms: number): Promise<boolean> {
    return (
      Number(
        await this.#holdScript.exec([key, rebuildLockKey(key)], [token, String(Math.max(1, Math.round(ms)))]),
      ) === 1
    )
  }

  async invalidate(keys: string[], ttlMs: number): Promise<void> {
    // One script per key (each in its own slot), sent together: the client's auto-pipelining
    // makes them one /pipeline request, and the proxy runs them on their nodes in parallel.
    const ttl = String(Math.max(1, Math.round(ttlMs)))
    await Promise.all(keys.map((key) => this.#tombstoneScript.exec([key], [ttl])))
  }

  async put(key: string, value: string, ttlMs: number): Promise<void> {
    const ttl = Number.isFinite(ttlMs) ? String(Math.max(1, Math.round(ttlMs))) : '0' // 0: no expiry
    await this.#putScript.exec([key], [value, ttl])
  }

  async notify(
    sync: SyncKeys,
    bound: number,
    keys: string[],
    tags: string[],
    now: number,
  ): Promise<number[]> {
    const [, versions] = await this.#notifyScript.exec(
      [sync.stream, sync.versions, sync.watermark],
      [String(bound), JSON.stringify(keys), JSON.stringify(tags), String(Math.floor(now))],
    )
    return versions.map(Number)
  }

  async readInvalidations(sync: SyncKeys, cursor: string, count: number): Promise<InvalidationBatch> {
    const [next, reset, entries] = await this.#readInvalidationsScript.exec(
      [sync.stream, sync.versions, sync.watermark],
      [cursor, String(count)],
    )
    return { cursor: String(next), reset: Number(reset) === 1, entries: entries.map(parseInvalidation) }
  }

  async tagVersions(sync: SyncKeys, tags: string[]): Promise<number[]> {
    if (tags.length === 0) return []
    return (await this.#tagVersionsScript.exec([sync.versions], tags)).map(Number)
  }
}

/** A stream entry `[id, ['k', keys JSON, 't', tags JSON]]` as an invalidation (junk is skipped). */
function parseInvalidation([, fields]: [string, unknown[]]): Invalidation {
  const out: Invalidation = { keys: [], tags: {} }
  for (let i = 0; i + 1 < fields.length; i += 2) {
    try {
      // A client with automatic deserialization (the @upstash/redis default) parsed it already.
      const raw = fields[i + 1]
      const value: unknown = typeof raw === 'string' ? JSON.parse(raw) : raw
      if (fields[i] === 'k' && Array.isArray(value)) out.keys = value.map(String)
      else if (fields[i] === 't' && value !== null && typeof value === 'object' && !Array.isArray(value))
        out.tags = value as Record<string, number>
    } catch {
      // An entry this version did not write: nothing to evict from it.
    }
  }
  return out
}
