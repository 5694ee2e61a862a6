/**
 * Exponential backoff with full jitter ("Exponential Backoff and Jitter", AWS Architecture Blog,
 * 2015): waiters spread out instead of retrying in lockstep.
 */

/**
 * The delay before retry number `attempt` (0-based): uniform in [0, min(max, base × 2^attempt)).
 * @param random uniform in [0, 1) (injected in tests)
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30))
  return Math.max(1, Math.floor(random() * cap))
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
