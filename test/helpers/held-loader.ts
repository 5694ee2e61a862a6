/**
 * A loader (or handler) that reads its value, says so, and then waits to be released: the
 * tests that race a write against a load hold it between its read and its return.
 */

/** What `heldLoader` gives: the loader, when it has read, its release, and how often it ran. */
export interface HeldLoader<T> {
  loader: () => Promise<T>
  /** Resolves once the first run has read its value. */
  started: Promise<void>
  /** Lets every run return. */
  release: () => void
  calls: () => number
}

/** A loader that calls `read` at once, then holds its answer until `release()`. */
export function heldLoader<T>(read: () => T): HeldLoader<T> {
  let release!: () => void
  const held = new Promise<void>((r) => (release = r))
  let signal!: () => void
  const started = new Promise<void>((r) => (signal = r))
  let calls = 0
  const loader = async () => {
    calls++
    const value = read()
    signal()
    await held
    return value
  }
  return { loader, started, release, calls: () => calls }
}
