/**
 * An atomic stock counter for flash sales, over the Upstash REST protocol: the stock lives in
 * Redis before the sale starts; every purchase is one Lua script that checks the buyer, checks and
 * decrements the count, and records the buyer, so the count never goes below zero and nobody buys
 * twice, however many instances take at once.
 */
import type { ScriptRunner } from '../cache/upstash-store.js'
import { InvalidOptionError } from '../errors.js'
import { checkOptionNames, describeValue } from '../option-names.js'
import { type RedisConnection, upstashClient } from '../upstash-client.js'
import { GIVE, INIT, INIT_IF_ABSENT, TAKE } from './scripts.js'

/** What `take` answers. */
export type TakeResult =
  | { ok: true; left: number }
  | { ok: false; reason: 'sold_out' | 'already_bought' | 'not_started'; left: number }

/** Options of `createStock`. */
export interface StockOptions {
  /** An `@upstash/redis` client, or `{ url, token }` (Upstash, or the tiercache proxy). */
  redis: RedisConnection
  /** Keeps one sale's items apart from another's. @default 'stock' */
  namespace?: string
}

/** Options of one `take`. */
export interface TakeOptions {
  /**
   * The purchase's id (1 to 512 characters), for a caller that may send the same purchase twice: an
   * order number, a request's `Idempotency-Key`. @default a random id per call
   */
  id?: string
}

/** Options of one `give`. */
export interface GiveOptions {
  /**
   * The purchase to give back: the id its `take` was given (an order number). Only that purchase is
   * given back: a give that comes late (a payment-failed webhook delivered again) finds the
   * user's later purchase, or none, and gives nothing. @default the user's purchase, whichever it is
   */
  id?: string
}

/** The stock of a sale's items. */
export interface Stock {
  /**
   * Puts `quantity` of an item on sale (and forgets earlier buyers): a new sale, even over one
   * running. Code that runs at every start (a serverless cold start) wants `initIfAbsent`. A request
   * the HTTP client sends again (its answer lost) does not start the sale again.
   */
  init(item: string, quantity: number): Promise<void>
  /**
   * Puts `quantity` of an item on sale unless it is on sale already, atomically: safe to call at
   * every start of every instance, where `init` would reset a running sale (and sell again what
   * was sold). Answers whether this call started the sale (a request sent again still says so),
   * and how many are left.
   */
  initIfAbsent(item: string, quantity: number): Promise<{ initialized: boolean; left: number }>
  /**
   * One purchase of `n` by `user`: at most one per user, never below zero. The purchase carries an
   * id (a random one per call unless `options.id` names it): run again with the same user, `n` and
   * id, it answers as it did the first time instead of `already_bought`, so a retried request
   * (the HTTP client's own retry after a lost answer, or a caller's with an `Idempotency-Key`)
   * reports the purchase it made.
   */
  take(item: string, user: string, n?: number, options?: TakeOptions): Promise<TakeResult>
  /**
   * Undoes a user's purchase (payment failed): their quantity goes back on sale, and the user may
   * buy again. A request the HTTP client sends again answers as the first did; another call finds
   * nothing to give (`given: 0`). `options.id` names the purchase: only it is given back.
   */
  give(item: string, user: string, options?: GiveOptions): Promise<{ given: number; left: number }>
  /** How many are left (0 for an item never put on sale). */
  left(item: string): Promise<number>
}

function nonEmpty(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 512)
    throw new InvalidOptionError(what, `must be a string of 1 to 512 characters, got ${describeValue(value)}`)
  return value
}

function count(value: unknown, what: string, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min)
    throw new InvalidOptionError(what, `must be an integer ≥ ${min}, got ${describeValue(value)}`)
  return value
}

/**
 * Creates a stock handle.
 * @throws {InvalidOptionError} naming a bad option or argument
 * @example
 * const stock = createStock({ redis: { url, token }, namespace: 'black-friday' })
 * await stock.initIfAbsent('console', 100) // at every start: a running sale is left alone
 * const result = await stock.take('console', userId) // { ok: true, left: 99 } or { ok: false, reason }
 */
export function createStock(options: StockOptions): Stock {
  checkOptionNames(options ?? {}, ['redis', 'namespace'])
  const redis = upstashClient(options?.redis)
  const namespace = nonEmpty(options.namespace ?? 'stock', 'namespace')
  // Each call's id is made before its request: @upstash/redis sends the same body when it retries,
  // so a script run again recognises its own call.
  const callId = () => globalThis.crypto.randomUUID()
  const init = redis.createScript(INIT) as ScriptRunner<number>
  const initIfAbsent = redis.createScript(INIT_IF_ABSENT) as ScriptRunner<[number, number]>
  const take = redis.createScript(TAKE) as ScriptRunner<[number, string, number]>
  const give = redis.createScript(GIVE) as ScriptRunner<[number, number]>
  // Braces in an item name would move its keys to another slot: they are refused.
  const keys = (item: string) => {
    if (/[{}]/.test(nonEmpty(item, 'item'))) throw new InvalidOptionError('item', 'must not contain braces')
    const tag = `${namespace}:{${item}}`
    return [`${tag}:left`, `${tag}:buyers`, `${tag}:sale`]
  }
  return {
    async init(item, quantity) {
      await init.exec(keys(item), [String(count(quantity, 'quantity', 0)), callId()])
    },
    async initIfAbsent(item, quantity) {
      const [initialized, left] = await initIfAbsent.exec(keys(item), [
        String(count(quantity, 'quantity', 0)),
        callId(),
      ])
      return { initialized: Number(initialized) === 1, left: Number(left) }
    },
    async take(item, user, n = 1, takeOptions = {}) {
      checkOptionNames(takeOptions, ['id'])
      const id = takeOptions.id === undefined ? callId() : nonEmpty(takeOptions.id, 'id')
      const [ok, reason, left] = await take.exec(keys(item), [
        nonEmpty(user, 'user'),
        String(count(n, 'n', 1)),
        id,
      ])
      if (Number(ok) === 1) return { ok: true, left: Number(left) }
      return {
        ok: false,
        reason: String(reason) as 'sold_out' | 'already_bought' | 'not_started',
        left: Number(left),
      }
    },
    async give(item, user, giveOptions = {}) {
      checkOptionNames(giveOptions, ['id'])
      const purchase = giveOptions.id === undefined ? '' : nonEmpty(giveOptions.id, 'id')
      const [given, left] = await give.exec(keys(item), [nonEmpty(user, 'user'), callId(), purchase])
      return { given: Number(given), left: Number(left) }
    },
    async left(item) {
      const value = await redis.get<string | number | null>(keys(item)[0]!)
      return value === null ? 0 : Number(value)
    },
  }
}
