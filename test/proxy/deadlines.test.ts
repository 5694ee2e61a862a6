/**
 * Deadlines in 10 ms slots with one timer: vitest's fake timers drive both the timer and the
 * injected clock, so nothing sleeps.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { MAX_TIMER_MS } from '../../src/duration.js'
import { Deadlines } from '../../src/proxy/deadlines.js'

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

const clock = () => Date.now() // faked: moves only with the timers

/** A promise and its settle functions. */
function pending<T>() {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

describe('Deadlines', () => {
  it('settles as the work does when it is in time, and files nothing after', async () => {
    const deadlines = new Deadlines(clock)
    const work = pending<string>()
    const raced = deadlines.race(work.promise, 1000, () => new Error('late'))
    expect(deadlines.pending).toBe(1)
    work.resolve('done')
    expect(await raced).toBe('done')
    expect(deadlines.pending).toBe(0)
    const failing = pending<string>()
    const rejected = deadlines.race(failing.promise, 1000, () => new Error('late'))
    failing.reject(new Error('boom'))
    await expect(rejected).rejects.toThrow('boom')
  })

  it('rejects late work with its own error, no earlier than the deadline and within one slot of it', async () => {
    const deadlines = new Deadlines(clock)
    const expired = vi.fn(() => new Error('late'))
    const raced = deadlines.race(new Promise<never>(() => {}), 200, expired)
    raced.catch(() => {})
    await vi.advanceTimersByTimeAsync(199)
    expect(expired).not.toHaveBeenCalled()
    await vi.advanceTimersByTimeAsync(11)
    expect(expired).toHaveBeenCalledTimes(1)
    await expect(raced).rejects.toThrow('late')
    expect(deadlines.pending).toBe(0)
  })

  it('work settled in time is never expired, and a shorter deadline filed later still fires first', async () => {
    const deadlines = new Deadlines(clock)
    const slowExpired = vi.fn(() => new Error('slow'))
    const quickExpired = vi.fn(() => new Error('quick'))
    const inTime = pending<number>()
    const inTimeExpired = vi.fn(() => new Error('never'))
    const kept = deadlines.race(inTime.promise, 100, inTimeExpired)
    const slow = deadlines.race(new Promise<never>(() => {}), 5000, slowExpired)
    slow.catch(() => {})
    const quick = deadlines.race(new Promise<never>(() => {}), 300, quickExpired)
    quick.catch(() => {})
    inTime.resolve(1)
    expect(await kept).toBe(1)
    await vi.advanceTimersByTimeAsync(320)
    expect(quickExpired).toHaveBeenCalledTimes(1)
    expect(slowExpired).not.toHaveBeenCalled()
    await vi.advanceTimersByTimeAsync(5000)
    expect(slowExpired).toHaveBeenCalledTimes(1)
    expect(inTimeExpired).not.toHaveBeenCalled()
    expect(deadlines.pending).toBe(0)
  })

  it('file and withdraw: a withdrawn deadline never fires, a filed one fires once, on time', async () => {
    const deadlines = new Deadlines(clock)
    const withdrawn = vi.fn()
    const kept = vi.fn()
    const filing = deadlines.file(100, withdrawn)
    deadlines.file(100, kept)
    expect(deadlines.pending).toBe(2)
    deadlines.withdraw(filing, withdrawn)
    expect(deadlines.pending).toBe(1)
    await vi.advanceTimersByTimeAsync(99)
    expect(kept).not.toHaveBeenCalled()
    await vi.advanceTimersByTimeAsync(11)
    expect(kept).toHaveBeenCalledTimes(1)
    expect(withdrawn).not.toHaveBeenCalled()
    expect(deadlines.pending).toBe(0)
    await vi.advanceTimersByTimeAsync(1000)
    expect(kept).toHaveBeenCalledTimes(1)
  })

  it('a deadline past the longest timer fires on time, not at once', async () => {
    const armed = vi.spyOn(globalThis, 'setTimeout')
    const deadlines = new Deadlines(clock)
    const work = pending<number>()
    const days = 30 * 86_400_000
    const raced = deadlines.race(work.promise, days, () => new Error('late'))
    const outcome = raced.then(
      () => 'settled',
      () => 'late',
    )
    // A timer longer than 2^31 - 1 ms fires after 1 ms (Node, browsers, Workers).
    for (const call of armed.mock.calls) expect(call[1]).toBeLessThanOrEqual(MAX_TIMER_MS)
    await vi.advanceTimersByTimeAsync(days - 1000)
    expect(await Promise.race([outcome, Promise.resolve('pending')])).toBe('pending')
    await vi.advanceTimersByTimeAsync(1010)
    expect(await outcome).toBe('late')
    armed.mockRestore()
  })

  it('keeps no timer while nothing is filed (the process can exit)', async () => {
    const deadlines = new Deadlines(clock)
    await deadlines.race(Promise.resolve(1), 1000, () => new Error('late'))
    await vi.advanceTimersByTimeAsync(1010) // the one armed timer fires, finds its slot empty
    expect(vi.getTimerCount()).toBe(0)
  })
})
