/**
 * Sequential writes under a fault, each timed and recorded (acknowledged or failed, and when):
 * what the failover tests count lost and failed writes from.
 */

/** One write: its number, whether it was acknowledged (or the error), when, and how long it took. */
export interface Write {
  i: number
  ok: boolean
  error?: string
  ackAt: number
  ms: number
}

/** Calls `send(0)`, `send(1)`, ... one after another until `until()` (at most 100,000). */
export async function timedWrites(
  send: (i: number) => Promise<unknown>,
  until: () => boolean,
): Promise<Write[]> {
  const writes: Write[] = []
  for (let i = 0; !until() && i < 100_000; i++) {
    const started = Date.now()
    try {
      await send(i)
      writes.push({ i, ok: true, ackAt: Date.now(), ms: Date.now() - started })
    } catch (error) {
      writes.push({
        i,
        ok: false,
        error: (error as Error).message,
        ackAt: Date.now(),
        ms: Date.now() - started,
      })
    }
  }
  return writes
}
