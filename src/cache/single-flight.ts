/**
 * In-process single flight: concurrent calls for one key share one run and its result or error.
 */

/** Runs at most one `fn` per key at a time; later callers get the running promise. */
export class SingleFlight<T> {
  readonly #running = new Map<string, Promise<T>>()

  /** Runs `fn` for `key`, or joins the run already under way. */
  run(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.#running.get(key)
    if (running) return running
    const promise = fn().finally(() => this.#running.delete(key))
    this.#running.set(key, promise)
    return promise
  }
}
