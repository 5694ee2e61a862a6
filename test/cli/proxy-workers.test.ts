/**
 * `--workers`: a positive integer bounded by the cores, or `auto`. (Running workers is tested
 * end to end in `main.test.ts`.)
 */
import { describe, expect, it } from 'vitest'
import { parseWorkers } from '../../src/cli/proxy-workers.js'
import { InvalidOptionError } from '../../src/errors.js'

describe('parseWorkers', () => {
  it('one by default, one per core for auto, and any count up to 4 per core', () => {
    expect(parseWorkers(undefined, '--workers', 2)).toBe(1)
    expect(parseWorkers('', '--workers', 2)).toBe(1)
    expect(parseWorkers('auto', '--workers', 6)).toBe(6)
    expect(parseWorkers('3', '--workers', 2)).toBe(3)
    expect(parseWorkers('8', '--workers', 2)).toBe(8)
  })

  it('refuses more than 4 per core (a slip like 1000 would fork a thousand proxies), naming the flag and the bound', () => {
    expect(() => parseWorkers('9', '--workers', 2)).toThrowError(InvalidOptionError)
    expect(() => parseWorkers('1000', '--workers', 2)).toThrowError(
      /^Invalid option --workers: must be at most 8 \(4 per core, 2 cores here; "auto" is one per core\), got 1000$/,
    )
  })

  it('names the environment variable when it set the value', () => {
    expect(() => parseWorkers('99', 'TIERCACHE_WORKERS', 2)).toThrowError(
      /^Invalid option TIERCACHE_WORKERS: must be at most 8/,
    )
  })

  it('refuses what is not a positive integer', () => {
    for (const bad of ['0', '-1', '1.5', 'two', '1e3x'])
      expect(() => parseWorkers(bad, '--workers', 2)).toThrowError(
        /^Invalid option --workers: must be a positive integer or "auto"/,
      )
  })
})
