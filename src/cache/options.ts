/**
 * `createCache` options: their types, their defaults (named where they are read) and their
 * validation. A bad option throws at construction with its name.
 */
import { checkTimer, type Duration, parseDuration } from '../duration.js'
import { InvalidOptionError } from '../errors.js'
import { checkFunction, checkOptionNames, describeValue } from '../option-names.js'
import type { CacheEvent } from './events.js'
import type { TierTwoStore } from './store.js'
import type { RedisConnection } from './upstash-store.js'

/** A source of time: wall-clock milliseconds since the epoch (tier-2 entries are shared across machines). */
export interface Clock {
  now(): number
}

/** Options of `createCache`; every one has a default. */
export interface CacheOptions {
  /**
   * Tier 2: an `@upstash/redis` client, `{ url, token }`, or any `TierTwoStore`.
   * @default the embedded in-memory store (nothing shared across instances)
   */
  redis?: RedisConnection | TierTwoStore
  /** Prefix of every key (`<namespace>:<key>`). @default 'tc' */
  namespace?: string
  /** How long a loaded value is fresh. @default '10m' */
  ttl?: Duration
  /** Every TTL written is ttl × (1 ± jitter), uniformly; 0 turns it off. In [0, 1). @default 0.1 */
  jitter?: number
  /** How long "the loader found nothing" is remembered (also jittered). @default '30s' */
  nullTtl?: Duration
  /** How long past its fresh time a value may still be served stale while it is refreshed. @default '0s' */
  grace?: Duration
  /** Tier 1 bounds. */
  l1?: {
    /** Most entries. @default 10_000 */
    max?: number
    /** Most bytes (UTF-8 length of the encoded entries). @default 64 MiB */
    maxSize?: number
    /** The longest an L1 copy lives (it never outlives the entry's fresh time either). @default '5s' */
    ttl?: Duration
  }
  /** Timeouts. */
  timeouts?: {
    /** A tier-2 call slower than this counts as a miss (the loader runs). @default '100ms' */
    l2?: Duration
  }
  /** Tier-2 circuit breaker. */
  breaker?: {
    /** Failures in a row that open it. @default 5 */
    failures?: number
    /** How long it stays open before one probe. @default '5s' */
    cooldown?: Duration
  }
  /**
   * XFetch early refresh (Vattani et al., VLDB 2015): a fresh tier-2 read refreshes early when
   * `now − δ·β·ln(random) ≥ freshUntil` (δ: the last load's duration). 0 turns it off. @default 1
   */
  xfetchBeta?: number
  /** Fleet-wide single flight: one rebuild per key across every instance sharing tier 2. */
  rebuild?: {
    /** How long a rebuild lock lives (longer than your slowest loader). @default '10s' */
    lockTtl?: Duration
    /** How long a caller that lost the race waits for the winner's fill. @default '5s' */
    wait?: Duration
    /** After `wait`: run the loader anyway (fail open) or throw `RebuildTimeoutError`. @default 'load' */
    onWaitTimeout?: 'load' | 'throw'
  }
  /** Writes (`cache.write`). */
  writes?: {
    /** How long a tombstone lives: longer than your slowest loader, so a late fill is still refused. @default '1m' */
    tombstoneTtl?: Duration
    /** A second invalidation this long after each write (sources that are themselves eventually consistent). @default none */
    doubleDelete?: Duration
  }
  /**
   * Cross-instance L1 coherence: an L1 hit is never older than this relative to a write (on any
   * instance) that completed before the read began. Before serving an L1 hit whose last sync is
   * older, the instance reads the invalidation stream (one tier-2 call per `maxStaleness` at
   * most). 0: every read checks tier 2. `Infinity`: off (one instance alone, or the L1 TTL is
   * bound enough). @default '1s'
   */
  maxStaleness?: Duration
  /** The invalidation stream. */
  invalidations?: {
    /** Entries kept (the stream is trimmed to this, a tenth at a time). @default 10_000 */
    maxLength?: number
    /** Entries read per call while syncing. @default 1000 */
    readCount?: number
  }
  /** Returns false for keys that cannot exist: they answer null at once, touching nothing. */
  validate?: (key: string) => boolean
  /** Wall clock (injected in tests). @default Date */
  clock?: Clock
  /** Uniform numbers in [0, 1) (injected in tests). @default Math.random */
  random?: () => number
  /** Hands background work to the platform (Workers `ctx.waitUntil`, Vercel `waitUntil`). */
  waitUntil?: (promise: Promise<unknown>) => void
  /**
   * Receives every cache event; costs nothing when absent. An error it throws is caught (the first
   * one logged with console.error): it never fails the cache call the event came from.
   */
  onEvent?: (event: CacheEvent) => void
}

/** Options after validation, in milliseconds. */
export interface ResolvedOptions {
  prefix: string
  ttlMs: number
  jitter: number
  nullTtlMs: number
  graceMs: number
  l1Max: number
  l1MaxSize: number
  l1TtlMs: number
  l2TimeoutMs: number
  breakerFailures: number
  breakerCooldownMs: number
  xfetchBeta: number
  tombstoneTtlMs: number
  doubleDeleteMs: number | undefined
  maxStalenessMs: number
  streamMaxLength: number
  syncReadCount: number
  lockTtlMs: number
  lockWaitMs: number
  onWaitTimeout: 'load' | 'throw'
  validate: ((key: string) => boolean) | undefined
  now: () => number
  /** A clock was injected (tests): L1 must read it on every access. */
  clockInjected: boolean
  random: () => number
  waitUntil: ((promise: Promise<unknown>) => void) | undefined
  onEvent: ((event: CacheEvent) => void) | undefined
}

const DEFAULT_TTL: Duration = '10m'
const DEFAULT_JITTER = 0.1
const DEFAULT_NULL_TTL: Duration = '30s'
const DEFAULT_GRACE: Duration = '0s'
const DEFAULT_L1_MAX = 10_000
const DEFAULT_L1_MAX_SIZE = 64 * 1024 * 1024
const DEFAULT_L1_TTL: Duration = '5s'
const DEFAULT_L2_TIMEOUT: Duration = '100ms'
const DEFAULT_BREAKER_FAILURES = 5
const DEFAULT_BREAKER_COOLDOWN: Duration = '5s'
const DEFAULT_LOCK_TTL: Duration = '10s'
const DEFAULT_TOMBSTONE_TTL: Duration = '1m'
const DEFAULT_LOCK_WAIT: Duration = '5s'
const DEFAULT_MAX_STALENESS: Duration = '1s'
const DEFAULT_STREAM_MAX_LENGTH = 10_000
const DEFAULT_SYNC_READ_COUNT = 1000

function positiveInteger(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new InvalidOptionError(option, `must be a positive integer, got ${describeValue(value)}`)
  }
  return value
}

/**
 * A duration above 0, in milliseconds.
 * @throws {InvalidOptionError} naming `option`, for a malformed duration or 0
 */
export function positiveDuration(value: unknown, option: string): number {
  const ms = parseDuration(value, option)
  if (ms <= 0) throw new InvalidOptionError(option, `must be more than 0, got ${describeValue(value)}`)
  return ms
}

function nonNegativeNumber(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidOptionError(option, `must be a finite number ≥ 0, got ${describeValue(value)}`)
  }
  return value
}

function onWaitTimeout(value: unknown): 'load' | 'throw' {
  if (value === undefined) return 'load'
  if (value === 'load' || value === 'throw') return value
  throw new InvalidOptionError(
    'rebuild.onWaitTimeout',
    `must be "load" or "throw", got ${describeValue(value)}`,
  )
}

/** The options `createCache` knows, by group ('' at the top): any other name is refused. */
const OPTION_NAMES: Record<string, readonly string[]> = {
  '': [
    'redis',
    'namespace',
    'ttl',
    'jitter',
    'nullTtl',
    'grace',
    'l1',
    'timeouts',
    'breaker',
    'xfetchBeta',
    'rebuild',
    'writes',
    'maxStaleness',
    'invalidations',
    'validate',
    'clock',
    'random',
    'waitUntil',
    'onEvent',
  ],
  l1: ['max', 'maxSize', 'ttl'],
  timeouts: ['l2'],
  breaker: ['failures', 'cooldown'],
  rebuild: ['lockTtl', 'wait', 'onWaitTimeout'],
  writes: ['tombstoneTtl', 'doubleDelete'],
  invalidations: ['maxLength', 'readCount'],
}

/**
 * Validates options and fills in defaults.
 * @throws {InvalidOptionError} naming the first bad option
 */
export function resolveOptions(options: CacheOptions): ResolvedOptions {
  checkOptionNames(options, OPTION_NAMES['']!)
  for (const group of ['l1', 'timeouts', 'breaker', 'rebuild', 'writes', 'invalidations'] as const) {
    if (options[group] !== undefined) checkOptionNames(options[group], OPTION_NAMES[group]!, group)
  }
  const {
    namespace = 'tc',
    ttl = DEFAULT_TTL,
    jitter = DEFAULT_JITTER,
    nullTtl = DEFAULT_NULL_TTL,
    grace = DEFAULT_GRACE,
    l1 = {},
    timeouts = {},
    breaker = {},
    rebuild = {},
    xfetchBeta = 1,
    writes = {},
    maxStaleness = DEFAULT_MAX_STALENESS,
    invalidations = {},
    validate,
    clock,
    random = Math.random,
    waitUntil,
    onEvent,
  } = options
  if (typeof namespace !== 'string')
    throw new InvalidOptionError('namespace', `must be a string, got ${describeValue(namespace)}`)
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter < 1)) {
    throw new InvalidOptionError('jitter', `must be a number in [0, 1), got ${describeValue(jitter)}`)
  }
  for (const [name, fn] of [
    ['validate', validate],
    ['random', random],
    ['waitUntil', waitUntil],
    ['onEvent', onEvent],
  ] as const) {
    if (fn !== undefined) checkFunction(fn, name)
  }
  if (clock !== undefined && typeof clock?.now !== 'function')
    throw new InvalidOptionError('clock', 'must have a now() method')
  return {
    prefix: namespace === '' ? '' : `${namespace}:`,
    ttlMs: positiveDuration(ttl, 'ttl'),
    jitter,
    nullTtlMs: positiveDuration(nullTtl, 'nullTtl'),
    graceMs: parseDuration(grace, 'grace'),
    l1Max: positiveInteger(l1.max ?? DEFAULT_L1_MAX, 'l1.max'),
    l1MaxSize: positiveInteger(l1.maxSize ?? DEFAULT_L1_MAX_SIZE, 'l1.maxSize'),
    l1TtlMs: positiveDuration(l1.ttl ?? DEFAULT_L1_TTL, 'l1.ttl'),
    l2TimeoutMs: checkTimer(
      positiveDuration(timeouts.l2 ?? DEFAULT_L2_TIMEOUT, 'timeouts.l2'),
      'timeouts.l2',
    ),
    breakerFailures: positiveInteger(breaker.failures ?? DEFAULT_BREAKER_FAILURES, 'breaker.failures'),
    breakerCooldownMs: positiveDuration(breaker.cooldown ?? DEFAULT_BREAKER_COOLDOWN, 'breaker.cooldown'),
    xfetchBeta: nonNegativeNumber(xfetchBeta, 'xfetchBeta'),
    tombstoneTtlMs: positiveDuration(writes.tombstoneTtl ?? DEFAULT_TOMBSTONE_TTL, 'writes.tombstoneTtl'),
    doubleDeleteMs:
      writes.doubleDelete === undefined
        ? undefined
        : checkTimer(positiveDuration(writes.doubleDelete, 'writes.doubleDelete'), 'writes.doubleDelete'),
    maxStalenessMs: maxStaleness === Infinity ? Infinity : parseDuration(maxStaleness, 'maxStaleness'),
    streamMaxLength: positiveInteger(
      invalidations.maxLength ?? DEFAULT_STREAM_MAX_LENGTH,
      'invalidations.maxLength',
    ),
    syncReadCount: positiveInteger(
      invalidations.readCount ?? DEFAULT_SYNC_READ_COUNT,
      'invalidations.readCount',
    ),
    lockTtlMs: positiveDuration(rebuild.lockTtl ?? DEFAULT_LOCK_TTL, 'rebuild.lockTtl'),
    lockWaitMs: parseDuration(rebuild.wait ?? DEFAULT_LOCK_WAIT, 'rebuild.wait'),
    onWaitTimeout: onWaitTimeout(rebuild.onWaitTimeout),
    validate,
    now: clock ? () => clock.now() : Date.now,
    clockInjected: clock !== undefined,
    random,
    waitUntil,
    onEvent: onEvent && isolateListener(onEvent),
  }
}

/**
 * The event listener, kept from failing the cache: an observability hook that throws must not
 * fail the read it reports on (it runs on every hit, and its error used to reject the getOrLoad,
 * or break a load after the loader had run). The first error is reported on the console, the one
 * channel every runtime has; later ones are not, to spare a hot path's logs.
 */
function isolateListener(onEvent: (event: CacheEvent) => void): (event: CacheEvent) => void {
  let reported = false
  return (event) => {
    try {
      onEvent(event)
    } catch (error) {
      if (reported) return
      reported = true
      console.error(`tiercache: onEvent threw on "${event.type}" (ignored; logged once):`, error)
    }
  }
}
