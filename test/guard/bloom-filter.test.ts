import { describe, expect, it } from 'vitest'
import { BloomFilter, bloomSize, positions } from '../../src/guard/bloom-filter.js'

describe('BloomFilter', () => {
  it.each([
    [10_000, 0.01],
    [100_000, 0.01],
    [50_000, 0.05],
    [200_000, 0.001],
  ])(
    'at design load (%i ids, p = %f): no false negative, false positives within 10 percent of p, memory within 5 percent of the optimum',
    (n, p) => {
      const size = bloomSize(n, p)
      const optimum = (-n * Math.log(p)) / Math.LN2 ** 2
      expect(size.bits).toBeGreaterThanOrEqual(optimum)
      expect(size.bits / optimum).toBeLessThan(1.05)
      const filter = new BloomFilter(size)
      for (let i = 0; i < n; i++) filter.add(`user:${i}`)
      for (let i = 0; i < n; i++) expect(filter.mightContain(`user:${i}`)).toBe(true)
      const trials = Math.max(200_000, Math.round(200 / p))
      let positives = 0
      for (let i = 0; i < trials; i++) if (filter.mightContain(`absent:${i}`)) positives++
      const rate = positives / trials
      expect(Math.abs(rate - p) / p).toBeLessThan(0.1)
      expect(Math.abs(filter.estimatedFpRate() - p) / p).toBeLessThan(0.1)
      expect(Math.abs(filter.estimatedCount() - n) / n).toBeLessThan(0.05)
    },
  )

  it('positions stay in range and are stable; the word layout follows Redis bit order', () => {
    const size = bloomSize(1000, 0.01)
    for (let i = 0; i < 10_000; i++)
      for (const p of positions(`k${i}`, size)) expect(p >= 0 && p < size.bits).toBe(true)
    expect(positions('same', size)).toEqual(positions('same', size))
    const filter = new BloomFilter({ bits: 64, hashes: 1 })
    const [p] = filter.add('x')
    // Redis bit 0 is the most significant bit of byte 0, which is the top bit of BITFIELD u32 word 0.
    expect(filter.words[p! >>> 5]! >>> (31 - (p! & 31))).toBe(1)
  })

  it('refuses nonsense sizes', () => {
    expect(() => bloomSize(0, 0.01)).toThrow(RangeError)
    expect(() => bloomSize(10, 1)).toThrow(RangeError)
  })
})
