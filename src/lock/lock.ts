/**
 * A distributed lock over Redis-over-HTTP (Upstash REST): `SET NX PX` with a token, release and
 * extend that compare the token in Lua, waiting with exponential backoff and full jitter, a
 * watchdog that extends the lock while its holder runs, fencing tokens and reentrancy.
 *
 * What it guarantees, honestly: with asynchronous replication, a lock can be lost when a master
 * fails before its replica received the SET; two holders may then overlap. The lock is for
 * efficiency (one rebuild instead of a thousand). For correctness, pass the fencing token to the
 * store you write to and have it refuse a token lower than the last one it accepted.
 */
import { backoffDelay, sleep } from '../backoff.js'
import { type Duration, MAX_TIMER_MS, parseDuration } from '../duration.js'
import { InvalidOptionError, LockLostError, LockTimeoutError, TiercacheError } from '../errors.js'
import { checkFunction, checkOptionNames, describeValue } from '../option-names.js'
import { type RedisConnection, upstashClient } from '../upstash-client.js'
import { ACQUIRE, EXTEND, RELEASE } from './scripts.js'

/** Where the lock lives: an `@upstash/redis` client or its URL and token. */
export type LockConnection = RedisConnection

/** Options of `createLock`. */
export interface LockOptions {
  /** Redis over HTTP (required: a lock shared by nothing would lock nothing). */
  redis: LockConnection
  /** Prefix of the lock keys. @default 'tc' */
  namespace?: string
  /** Identifies this process: the same owner re-acquiring a lock it holds counts up (reentrancy). @default a random id */
  owner?: string
  /** Uniform numbers in [0, 1), for backoff jitter (injected in tests). @default Math.random */
  random?: () => number
}

/** Options of one acquisition. */
export interface AcquireOptions {
  /** How long the lock lives unless extended. @default '10s' */
  ttl?: Duration
  /** How long to keep trying when it is held. @default '0ms' (one try) */
  wait?: Duration
  /** Backoff between tries: base and cap of the exponential, with full jitter. @default { base: '20ms', max: '500ms' } */
  retry?: { base?: Duration; max?: Duration }
}

/** A held lock. */
export interface LockHandle {
  readonly name: string
  /** This holder's token (owner id and a random part). */
  readonly token: string
  /**
   * Fencing token: strictly increasing per lock name across all holders, a failover that lost
   * the last acquisition included (it is at least the acquiring process's clock in ms: a safe
   * integer that needs 64 bits). Hand it to the store you write to; a write carrying a lower fence than one already
   * seen comes from a stale holder.
   */
  readonly fence: number
  /** How many times this owner holds it (reentrancy). */
  readonly count: number
  /**
   * Releases this hold (once: a second call, or a request sent again, releases no other hold).
   * False when the lock was no longer ours (expired, taken over, or already released by this
   * owner's last hold).
   */
  release(): Promise<boolean>
  /** Extends the lock's life to `ttl` from now. False when it is no longer ours. */
  extend(ttl?: Duration): Promise<boolean>
}

/** What `withLock`'s function receives. */
export interface LockContext {
  lock: LockHandle
  /** Aborted when the lock is lost while the function runs: stop writing. */
  signal: AbortSignal
}

/** The lock API. */
export interface Lock {
  /** Takes the lock, waiting up to `wait`; null when it stayed held by someone else. */
  acquire(name: string, options?: AcquireOptions): Promise<LockHandle | null>
  /**
   * Runs `fn` holding the lock: extended every ttl/3 while `fn` runs, released after. The signal
   * aborts if the lock is lost.
   * @throws {LockTimeoutError} when the lock could not be taken within `wait`
   */
  withLock<T>(
    name: string,
    fn: (context: LockContext) => Promise<T> | T,
    options?: AcquireOptions,
  ): Promise<T>
}

const DEFAULT_TTL: Duration = '10s'
const DEFAULT_BACKOFF_BASE: Duration = '20ms'
const DEFAULT_BACKOFF_MAX: Duration = '500ms'
const MAX_NAME_LENGTH = 256

/**
 * Creates a lock client.
 * @throws {InvalidOptionError} naming the bad option
 * @example
 * const lock = createLock({ redis: { url, token } })
 * await lock.withLock('rebuild:catalog', async ({ lock, signal }) => rebuild({ fence: lock.fence, signal }), { ttl: '30s', wait: '5s' })
 */
export function createLock(options: LockOptions): Lock {
  checkOptionNames(options ?? {}, ['redis', 'namespace', 'owner', 'random'])
  const { redis, namespace = 'tc', owner = randomId(), random = Math.random } = options ?? ({} as LockOptions)
  if (!redis)
    throw new InvalidOptionError('redis', 'a lock needs Redis: an @upstash/redis client or { url, token }')
  if (typeof owner !== 'string' || owner.length === 0 || owner.includes('|')) {
    throw new InvalidOptionError(
      'owner',
      `must be a non-empty string without "|", got ${describeValue(owner)}`,
    )
  }
  checkFunction(random, 'random')
  const client = upstashClient(redis)
  // @upstash/redis scripts: EVALSHA first, EVAL when the node answers NOSCRIPT (a failover, a flush).
  const acquireScript = client.createScript<[number, number, string, number] | [number, number]>(ACQUIRE)
  const releaseScript = client.createScript<number>(RELEASE)
  const extendScript = client.createScript<number>(EXTEND)
  const prefix = namespace === '' ? '' : `${namespace}:`

  const keys = (name: string) => {
    // The name is the hash tag: the lock, its fence counter and its count share one slot.
    const tag = `${prefix}lock:{${name}}`
    // `holds`, a set: versions before it kept a count under `:count`, which expires with its lock.
    return { lock: tag, fence: `${tag}:fence`, holds: `${tag}:holds` }
  }

  const tryOnce = async (name: string, ttlMs: number): Promise<LockHandle | { heldForMs: number }> => {
    const k = keys(name)
    const token = `${owner}|${randomId()}`
    const reply = await acquireScript.exec(
      [k.lock, k.fence, k.holds],
      [token, `${owner}|`, String(ttlMs), String(Date.now())],
    )
    if (Number(reply[0]) !== 1) return { heldForMs: Number(reply[1]) }
    const [, fence, heldToken, count] = reply as [number, number, string, number]
    return handle(name, String(heldToken), token, Number(fence), Number(count), ttlMs)
  }

  /** A hold: `token` is the lock's (the first holder's), `holdToken` this acquisition's own. */
  const handle = (
    name: string,
    token: string,
    holdToken: string,
    fence: number,
    count: number,
    ttlMs: number,
  ): LockHandle => {
    const k = keys(name)
    return {
      name,
      token,
      fence,
      count,
      release: async () => Number(await releaseScript.exec([k.lock, k.holds], [token, holdToken])) >= 0,
      extend: async (ttl?: Duration) => {
        const ms = ttl === undefined ? ttlMs : parseDuration(ttl, 'ttl')
        return Number(await extendScript.exec([k.lock, k.holds], [token, String(ms)])) === 1
      },
    }
  }

  const acquire = async (name: string, acquireOptions: AcquireOptions = {}): Promise<LockHandle | null> => {
    checkOptionNames(acquireOptions, ['ttl', 'wait', 'retry'])
    if (acquireOptions.retry) checkOptionNames(acquireOptions.retry, ['base', 'max'], 'retry')
    validateName(name)
    const ttlMs = parseDuration(acquireOptions.ttl ?? DEFAULT_TTL, 'ttl')
    if (ttlMs <= 0) throw new InvalidOptionError('ttl', 'must be more than 0')
    const waitMs = parseDuration(acquireOptions.wait ?? 0, 'wait')
    const baseMs = parseDuration(acquireOptions.retry?.base ?? DEFAULT_BACKOFF_BASE, 'retry.base')
    const maxMs = parseDuration(acquireOptions.retry?.max ?? DEFAULT_BACKOFF_MAX, 'retry.max')
    const deadline = Date.now() + waitMs
    for (let attempt = 0; ; attempt++) {
      const result = await tryOnce(name, ttlMs)
      if ('token' in result) return result
      const left = deadline - Date.now()
      if (left <= 0) return null
      // Never sleep past the deadline, nor past the holder's remaining ttl.
      await sleep(Math.min(backoffDelay(attempt, baseMs, maxMs, random), left, Math.max(result.heldForMs, 1)))
    }
  }

  const withLock = async <T>(
    name: string,
    fn: (context: LockContext) => Promise<T> | T,
    acquireOptions: AcquireOptions = {},
  ): Promise<T> => {
    // Before the lock is taken: a bad fn would otherwise fail only once the lock was held.
    checkFunction(fn, 'fn')
    const lock = await acquire(name, acquireOptions)
    if (!lock) throw new LockTimeoutError(name, parseDuration(acquireOptions.wait ?? 0, 'wait'))
    const ttlMs = parseDuration(acquireOptions.ttl ?? DEFAULT_TTL, 'ttl')
    const controller = new AbortController()
    // Watchdog: extend every ttl/3 while fn runs; a failed extension means the lock is gone.
    const watchdog = setInterval(
      () => {
        lock.extend(ttlMs).then(
          (held) => {
            if (!held && !controller.signal.aborted) {
              clearInterval(watchdog) // lost: nothing left to extend
              controller.abort(new LockLostError(name))
            }
          },
          () => {}, // a transient tier-2 failure: the next tick tries again, within the ttl
        )
      },
      // At most a timer's longest wait: a longer one fires every millisecond (a lock of 90 days
      // was extended in a busy loop); extending every 24.8 days still keeps it well within its ttl.
      Math.min(MAX_TIMER_MS, Math.max(1, Math.floor(ttlMs / 3))),
    )
    try {
      return await fn({ lock, signal: controller.signal })
    } finally {
      clearInterval(watchdog)
      await lock.release().catch(() => false)
    }
  }

  return { acquire, withLock }
}

function validateName(name: unknown): asserts name is string {
  const problem =
    typeof name !== 'string'
      ? `is not a string but ${describeValue(name)}`
      : name.length === 0
        ? 'is empty'
        : name.length > MAX_NAME_LENGTH
          ? `is ${name.length} characters long`
          : /[{}]/.test(name)
            ? 'holds a brace'
            : undefined
  if (problem === undefined) return
  // A long name is cut in the message: the error names it, it need not repeat it.
  const shown =
    typeof name === 'string' ? JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name) : ''
  throw new TiercacheError(
    'E_INVALID_LOCK_NAME',
    `Invalid lock name ${shown}${shown && ' '}${problem}: it must be a non-empty string of at most ${MAX_NAME_LENGTH} characters without braces (it becomes the key's hash tag)`,
  )
}

function randomId(): string {
  // Web Crypto: the same on Node, Workers and Vercel Edge.
  return globalThis.crypto.randomUUID()
}
