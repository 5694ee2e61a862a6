/**
 * Durations as users write them in options and on the command line: a number of milliseconds,
 * or a string such as `250ms`, `30s`, `10m`, `1h`, `7d` (decimals allowed: `1.5s`).
 */
import { InvalidOptionError } from './errors.js'
import { describeValue } from './option-names.js'

/** A duration: milliseconds as a number, or a string with a unit (`ms`, `s`, `m`, `h`, `d`). */
export type Duration = number | `${number}${DurationUnit}` | `${number}`

/** The units a duration string may end with. */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd'

const MS_PER_UNIT: Record<DurationUnit, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }

// Anchored, no nested quantifiers: linear time on any input (duration strings can come from env vars).
const DURATION_PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/

/**
 * Parses a duration into milliseconds.
 *
 * @param value milliseconds, or a string like `'250ms'`, `'30s'`, `'10m'`, `'1h'`, `'7d'`; a bare
 *   numeric string is milliseconds
 * @param option the option's name, used in the error message
 * @returns a finite, non-negative number of milliseconds (rounded to the nearest millisecond)
 * @throws {InvalidOptionError} when the value is negative, not finite, past `Number.MAX_SAFE_INTEGER`
 *   milliseconds, or not in the grammar above
 * @example
 * parseDuration('1.5s', 'ttl') // 1500
 */
export function parseDuration(value: unknown, option: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) {
      throw new InvalidOptionError(
        option,
        `must be a non-negative finite number of milliseconds, got ${value}`,
      )
    }
    return atMostSafe(Math.round(value), option)
  }
  const match = typeof value === 'string' && DURATION_PATTERN.exec(value.trim())
  if (!match) {
    throw new InvalidOptionError(
      option,
      `must be a number of milliseconds or a string like "250ms", "30s", "10m", "1h", "7d", got ${describeValue(value)}`,
    )
  }
  const amount = Number(match[1])
  const unit = (match[2] ?? 'ms') as DurationUnit
  return atMostSafe(Math.round(amount * MS_PER_UNIT[unit]), option)
}

/** The longest duration: past it milliseconds lose precision, and Redis refuses it as an expiry. */
function atMostSafe(ms: number, option: string): number {
  if (ms > Number.MAX_SAFE_INTEGER)
    throw new InvalidOptionError(option, `must be at most ${Number.MAX_SAFE_INTEGER} ms, got ${ms}`)
  return ms
}

/** The longest wait a JavaScript timer keeps (2^31 − 1 ms, 24.8 days); a longer one fires at once. */
export const MAX_TIMER_MS = 2_147_483_647

/**
 * Checks a duration something will wait for with a timer (a timeout, a delayed second delete):
 * Node, browsers and Workers fire a longer timer after 1 ms, so `timeouts.l2: '30d'`, meant as
 * "no timeout", had timed every call out at once.
 * @returns the milliseconds, unchanged
 * @throws {InvalidOptionError} past `MAX_TIMER_MS`
 */
export function checkTimer(ms: number, option: string): number {
  if (ms > MAX_TIMER_MS)
    throw new InvalidOptionError(
      option,
      `must be at most ${MAX_TIMER_MS} ms (24.8 days, the longest a timer waits), got ${ms}`,
    )
  return ms
}
