/**
 * A circuit breaker for tier 2: after `failures` failures in a row it opens and the cache stops
 * calling tier 2 for `cooldownMs`; then one probe is let through (half open): success closes it,
 * failure opens it again. Time comes from the injected clock.
 */

/** The breaker's state, as reported in events. */
export type CircuitState = 'closed' | 'open' | 'half-open'

/** Counts consecutive failures and says whether a call may go out. */
export class CircuitBreaker {
  #state: CircuitState = 'closed'
  #failures = 0
  #openedAt = 0
  #probing = false

  constructor(
    private readonly threshold: number,
    private readonly cooldownMs: number,
    private readonly now: () => number,
    private readonly onChange: (state: CircuitState) => void = () => {},
  ) {}

  /** The current state. */
  get state(): CircuitState {
    return this.#state
  }

  /** Whether a call to tier 2 may go out now (in half-open, only the one probe). */
  allow(): boolean {
    if (this.#state === 'closed') return true
    if (this.#state === 'open') {
      if (this.now() - this.#openedAt < this.cooldownMs) return false
      this.#set('half-open')
    }
    if (this.#probing) return false
    this.#probing = true
    return true
  }

  /** Records a successful call. */
  success(): void {
    this.#failures = 0
    this.#probing = false
    if (this.#state !== 'closed') this.#set('closed')
  }

  /** Records a failed call. */
  failure(): void {
    this.#failures++
    this.#probing = false
    if (this.#state === 'half-open' || (this.#state === 'closed' && this.#failures >= this.threshold)) {
      this.#openedAt = this.now()
      this.#set('open')
    }
  }

  #set(state: CircuitState): void {
    this.#state = state
    this.onChange(state)
  }
}

/**
 * Whether a tier-2 error is the server refusing this one request (a value over its body limit: the
 * proxy's or Upstash's 1 MiB; a wrong type; in a cluster, a key whose rebuild lock cannot share its
 * slot, see `rebuildLockKey`) rather than tier 2 being unwell. A refusal proves tier 2
 * answers, so it counts as a success for the breaker: one batch of values too large for the proxy
 * opened the breaker, and left tier 2 unused for every key for `breaker.cooldown`.
 */
export function isRefusal(error: unknown): boolean {
  return (
    (error as Error | undefined)?.name === 'UpstashError' &&
    /larger than|too large|request size|size exceeded|WRONGTYPE|out of range|CROSSSLOT/i.test(
      (error as Error).message,
    )
  )
}
