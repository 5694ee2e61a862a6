/**
 * The queue's options, checked: `createQueue`'s name and namespace, and what `consume` and `drain`
 * take. Every bad value is named before anything is read or written.
 */
import { type Duration, parseDuration } from '../duration.js'
import { InvalidOptionError } from '../errors.js'
import { checkFunction, checkOptionNames, describeValue } from '../option-names.js'

/** Options of `consume` and `drain`. */
export interface ConsumeOptions {
  /** The consumer group (created on first use). @default 'workers' */
  group?: string
  /** This consumer's name, unique in the group. @default a random one */
  consumer?: string
  /** Messages per batch. @default 10 */
  count?: number
  /** Milliseconds a read waits for new messages when there are none (the proxy clamps it). 0: never. @default 1000 (drain: 0) */
  blockMs?: number
  /** A message delivered but not acknowledged for this long is reclaimed by the next batch. @default '30s' */
  claimIdle?: Duration
  /** A message delivered more than this many times goes to the dead-letter stream. @default 5 */
  maxDeliveries?: number
  /**
   * The dead-letter stream's name, inside the queue's slot: `<namespace>:{<queue>}:<deadLetter>`.
   * @default 'dead-letter'
   */
  deadLetter?: string
  /** Where a new group starts: 'start' (every message in the stream) or 'end' (new ones only). @default 'start' */
  from?: 'start' | 'end'
  /** Stops `consume` (the batch under way finishes first). */
  signal?: AbortSignal
}

/** Options of `drain`: the consume options and its limits. */
export interface DrainOptions extends ConsumeOptions {
  /** Stop after this many messages. @default Infinity */
  maxMessages?: number
  /** Stop once this many milliseconds have passed (no new batch starts after it). @default 30000 */
  maxMs?: number
}

const MAX_NAME_LENGTH = 200

/**
 * A part of the queue's keys (its `name`, its `namespace`): braces would move the hash tag that
 * keeps a queue's keys in one slot.
 * @throws {InvalidOptionError} naming `option`
 */
export function checkKeyPart(value: unknown, option: 'name' | 'namespace'): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NAME_LENGTH || /[{}]/.test(value))
    throw new InvalidOptionError(
      option,
      `must be 1 to ${MAX_NAME_LENGTH} characters without braces, got ${describeValue(value)}`,
    )
  return value
}

/**
 * A positive integer option.
 * @throws {InvalidOptionError} naming `option`
 */
export function positiveInteger(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0)
    throw new InvalidOptionError(option, `must be a positive integer, got ${describeValue(value)}`)
  return value
}

/** `consume`'s options, checked, with their defaults. */
export interface ResolvedConsume {
  group: string
  consumer: string
  count: number
  blockMs: number
  claimIdleMs: number
  maxDeliveries: number
  from: '0' | '$'
  signal: AbortSignal | undefined
  deadLetter: string
}

/** The options of `consume`; `drain` knows two more. */
const CONSUME_OPTIONS = [
  'group',
  'consumer',
  'count',
  'blockMs',
  'claimIdle',
  'maxDeliveries',
  'deadLetter',
  'from',
  'signal',
]

/**
 * Checks `consume`'s options (`known`: the names accepted) and fills in their defaults.
 * @throws {InvalidOptionError} naming the bad option
 */
export function resolveConsume(options: ConsumeOptions = {}, known = CONSUME_OPTIONS): ResolvedConsume {
  checkOptionNames(options, known)
  const { group = 'workers', consumer = `consumer-${globalThis.crypto.randomUUID().slice(0, 8)}` } = options
  for (const [option, value] of [
    ['group', group],
    ['consumer', consumer],
  ] as const) {
    if (typeof value !== 'string' || value.length === 0)
      throw new InvalidOptionError(option, `must be a non-empty string, got ${describeValue(value)}`)
  }
  // Anything but a signal (a boolean, a controller instead of its signal) would never abort.
  if (options.signal !== undefined && typeof (options.signal as Partial<AbortSignal>)?.aborted !== 'boolean')
    throw new InvalidOptionError('signal', 'must be an AbortSignal (controller.signal)')
  if (options.from !== undefined && options.from !== 'start' && options.from !== 'end')
    throw new InvalidOptionError('from', `must be "start" or "end", got ${describeValue(options.from)}`)
  return {
    group,
    consumer,
    count: positiveInteger(options.count ?? 10, 'count'),
    blockMs: nonNegativeMs(options.blockMs ?? 1000, 'blockMs'),
    claimIdleMs: parseDuration(options.claimIdle ?? '30s', 'claimIdle'),
    maxDeliveries: positiveInteger(options.maxDeliveries ?? 5, 'maxDeliveries'),
    from: options.from === 'end' ? '$' : '0',
    signal: options.signal,
    deadLetter: checkDeadLetter(options.deadLetter ?? DEFAULT_DEAD_LETTER),
  }
}

/** The options of `drain`, checked: the consume options with no wait by default, and its limits. */
export function resolveDrain(options: DrainOptions): {
  o: ResolvedConsume
  maxMessages: number
  maxMs: number
} {
  // A drain does not wait on an empty queue unless asked to (block): empty means done.
  const o = resolveConsume({ blockMs: 0, ...options }, [...CONSUME_OPTIONS, 'maxMessages', 'maxMs'])
  const maxMessages = options.maxMessages ?? Infinity
  if (maxMessages !== Infinity) positiveInteger(maxMessages, 'maxMessages')
  return { o, maxMessages, maxMs: nonNegativeMs(options.maxMs ?? 30_000, 'maxMs') }
}

/**
 * Checks `drain` options without draining, for hosts that drain later with options fixed now
 * (`withQueueConsumer` in `tiercache/lambda` checks them when the function is set up, not at its
 * first invocation).
 * @throws {InvalidOptionError} naming the bad option
 */
export function checkDrainOptions(options: DrainOptions = {}): void {
  resolveDrain(options ?? {})
}

/** The dead-letter stream's name unless one is given. */
export const DEFAULT_DEAD_LETTER = 'dead-letter'

/** A handler that is not a function would fail every message it is given: refused before any is read. */
export function checkHandler(handler: unknown): void {
  checkFunction(handler, 'handler')
}

/**
 * A dead-letter stream's name (it becomes part of a key in the queue's slot).
 * @throws {InvalidOptionError} naming `deadLetter`
 */
export function checkDeadLetter(value: unknown): string {
  if (typeof value !== 'string' || !/^[\w.:-]{1,100}$/.test(value))
    throw new InvalidOptionError(
      'deadLetter',
      `must be 1 to 100 of [A-Za-z0-9_.:-], got ${describeValue(value)}`,
    )
  return value
}

/** A number of milliseconds ≥ 0, rounded. */
function nonNegativeMs(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw new InvalidOptionError(option, `must be a number of milliseconds ≥ 0, got ${describeValue(value)}`)
  return Math.round(value)
}
