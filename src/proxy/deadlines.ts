/**
 * Request deadlines without a timer per request: work is filed in 10 ms slots by the time it
 * must be done, and one timer, armed only while something is filed, rejects whatever is still
 * running when its slot comes due (up to one slot late).
 *
 * Why not `setTimeout` + `Promise.race` per request: that measured 0.7 µs a request against
 * 0.2 µs here, on a path where a whole single-command request costs about 35 µs of CPU.
 */

/** Width of a slot in milliseconds: how late a deadline may fire. */
const SLOT_MS = 10

/** Deadlines for the proxy's in-flight requests. */
export class Deadlines {
  readonly #slots = new Map<number, Set<() => void>>()
  readonly #now: () => number
  #timer: ReturnType<typeof setTimeout> | undefined
  #armedFor = Number.POSITIVE_INFINITY

  /** @param now a monotonic clock in milliseconds (injected in tests) */
  constructor(now: () => number = () => performance.now()) {
    this.#now = now
  }

  /**
   * Settles as `work` does, or rejects with `expired()` once `ms` have passed (and calls it only then).
   */
  race<T>(work: Promise<T>, ms: number, expired: () => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const slot = Math.ceil((this.#now() + ms) / SLOT_MS)
      let waiting = this.#slots.get(slot)
      if (!waiting) {
        waiting = new Set()
        this.#slots.set(slot, waiting)
      }
      const filed = waiting
      const expire = () => reject(expired())
      filed.add(expire)
      this.#arm(slot)
      work.then(
        (value) => {
          filed.delete(expire)
          resolve(value)
        },
        (error: unknown) => {
          filed.delete(expire)
          reject(error)
        },
      )
    })
  }

  /** Work filed and not yet settled nor expired (for tests). */
  get pending(): number {
    let n = 0
    for (const waiting of this.#slots.values()) n += waiting.size
    return n
  }

  #arm(slot: number): void {
    if (slot >= this.#armedFor) return
    if (this.#timer) clearTimeout(this.#timer)
    this.#armedFor = slot
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, slot * SLOT_MS - this.#now()))
    this.#timer.unref?.()
  }

  #fire(): void {
    this.#timer = undefined
    this.#armedFor = Number.POSITIVE_INFINITY
    const due = Math.floor(this.#now() / SLOT_MS)
    let next = Number.POSITIVE_INFINITY
    for (const [slot, waiting] of this.#slots) {
      if (slot <= due) {
        this.#slots.delete(slot)
        for (const expire of waiting) expire()
      } else if (waiting.size === 0) {
        this.#slots.delete(slot) // everything in it settled in time
      } else if (slot < next) {
        next = slot
      }
    }
    if (next !== Number.POSITIVE_INFINITY) this.#arm(next)
  }
}
