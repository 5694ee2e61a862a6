/**
 * In-process single flight: concurrent calls for one key share one run and its result or error.
 */

/** Runs at most one `fn` per key at a time; later callers get the running promise. */
export class SingleFlight<T> {
  readonly #running = new Map<string, { promise: Promise<T>; startedAt: number }>()

  /**
   * Runs `fn` for `key`, or joins the run already under way if it started at `joinSince` or later
   * (a caller may not be handed a value read before a write it must see: the coherence bound).
   * @param now the time this run starts, when a later caller may ask about it
   */
  run(key: string, fn: () => Promise<T>, joinSince = -Infinity, now = 0): Promise<T> {
    const running = this.joinable(key, joinSince)
    if (running) return running
    const flight = { promise: undefined as unknown as Promise<T>, startedAt: now }
    flight.promise = fn().finally(() => {
      // A newer run may have taken the key meanwhile: only a run removes itself.
      if (this.#running.get(key) === flight) this.#running.delete(key)
    })
    this.#running.set(key, flight)
    return flight.promise
  }

  /** The run under way for `key`, if it started at `joinSince` or later (see `run`). */
  joinable(key: string, joinSince = -Infinity): Promise<T> | undefined {
    const running = this.#running.get(key)
    return running && running.startedAt >= joinSince ? running.promise : undefined
  }

  /** Later callers of these keys start a new run (a write on this instance made the running one old). */
  forget(keys: Iterable<string>): void {
    for (const key of keys) this.#running.delete(key)
  }
}
