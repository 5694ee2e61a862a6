/**
 * Injected time and randomness: tests move the clock instead of sleeping, and draw from a seeded
 * generator instead of Math.random.
 */

/** A clock that only moves when told. */
export class ManualClock {
  constructor(public current = 1_800_000_000_000) {}
  now = (): number => this.current
  /** Moves time forward. */
  advance(ms: number): void {
    this.current += ms
  }
}

/** A seeded uniform generator in [0, 1) (mulberry32): the same sequence on every run. */
export function seededRandom(seed = 42): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
