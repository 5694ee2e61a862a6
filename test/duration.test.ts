import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { checkTimer, MAX_TIMER_MS, parseDuration } from '../src/duration.js'
import { InvalidOptionError } from '../src/errors.js'

describe('parseDuration', () => {
  it('reads numbers as milliseconds and strings with units', () => {
    expect(parseDuration(250, 'ttl')).toBe(250)
    expect(parseDuration('250ms', 'ttl')).toBe(250)
    expect(parseDuration('30s', 'ttl')).toBe(30_000)
    expect(parseDuration('10m', 'ttl')).toBe(600_000)
    expect(parseDuration('1h', 'ttl')).toBe(3_600_000)
    expect(parseDuration('7d', 'ttl')).toBe(604_800_000)
    expect(parseDuration('1.5s', 'ttl')).toBe(1500)
    expect(parseDuration('100', 'ttl')).toBe(100)
    expect(parseDuration('0s', 'grace')).toBe(0)
  })

  it('names the option in every refusal', () => {
    for (const bad of [
      '',
      'soon',
      '10 minutes',
      '-1s',
      '1e3s',
      'NaN',
      '1s1',
      -5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      null,
      {},
    ]) {
      expect(() => parseDuration(bad, 'l1.ttl')).toThrowError(InvalidOptionError)
      expect(() => parseDuration(bad, 'l1.ttl')).toThrowError(/Invalid option l1\.ttl/)
    }
  })

  it('refuses what milliseconds cannot hold exactly (Redis refused such an expiry on every fill)', () => {
    expect(parseDuration(Number.MAX_SAFE_INTEGER, 'ttl')).toBe(Number.MAX_SAFE_INTEGER)
    for (const bad of [1e20, Number.MAX_SAFE_INTEGER + 2, '99999999999999999999d', '200000000000d']) {
      expect(() => parseDuration(bad, 'ttl')).toThrowError(
        /^Invalid option ttl: must be at most 9007199254740991 ms, got /,
      )
    }
  })

  it('checkTimer: refuses what a timer cannot wait for (it would fire at once)', () => {
    expect(checkTimer(MAX_TIMER_MS, 'timeouts.l2')).toBe(MAX_TIMER_MS)
    expect(() => checkTimer(parseDuration('30d', 'timeouts.l2'), 'timeouts.l2')).toThrowError(
      /^Invalid option timeouts\.l2: must be at most 2147483647 ms \(24\.8 days, the longest a timer waits\), got 2592000000$/,
    )
  })

  it('never throws anything but InvalidOptionError, and accepts exactly what it returns finite values for', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.double(), fc.integer()), (value) => {
        try {
          const ms = parseDuration(value, 'x')
          expect(Number.isFinite(ms) && ms >= 0).toBe(true)
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidOptionError)
        }
      }),
      { numRuns: 2000 },
    )
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.constantFrom('ms', 's', 'm', 'h', 'd'),
        (n, unit) => {
          const factor = { ms: 1, s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[unit]
          expect(parseDuration(`${n}${unit}`, 'x')).toBe(n * factor)
        },
      ),
    )
  })
})
