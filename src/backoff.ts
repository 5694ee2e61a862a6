/**
 * Exponential backoff with full jitter ("Exponential Backoff and Jitter", AWS Architecture Blog,
 * 2015): waiters spread out instead of retrying in lockstep.
 */
import { MAX_TIMER_MS } from './duration.js'

/**
 * The delay before retry number `attempt` (0-based): uniform in [0, min(max, base × 2^attempt)).
 * @param random uniform in [0, 1) (injected in tests)
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30))
  return Math.max(1, Math.floor(random() * cap))
}

/**
 * Resolves after `ms` milliseconds, or after 24.8 days if that is sooner: a longer timer would
 * fire at once (a lock's `retry.max: '30d'` made its waiters spin). Callers loop on a deadline.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.min(ms, MAX_TIMER_MS)))
}
