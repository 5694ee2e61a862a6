/**
 * The Streams work queue on the real cluster through the proxy: sharing work across consumers,
 * reclaiming from a consumer killed mid-batch (a separate OS process), dead letters, trimming.
 * Idle times are Redis server time: the reclaim tests wait a few hundred ms of real time.
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { createInterface } from 'node:readline'
import { InvalidOptionError } from 'tiercache'
import { createQueue, type QueueMessage } from 'tiercache/queue'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { startTestProxy, TOKENS } from '../helpers/proxy.js'
import { startRelay } from '../helpers/tcp-relay.js'

let proxy: RunningProxy
beforeAll(async () => {
  proxy = await startTestProxy({ redis: inject('clusterUrl') })
})
afterAll(() => proxy.close('1s'))

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const queueNamed = (name: string) => createQueue({ redis: { url: proxy.url, token: TOKENS.standard }, name })

describe('queue', () => {
  it('adds JSON payloads in one call and drains them in order, acknowledged', async () => {
    const queue = queueNamed(`q-${randomUUID()}`)
    const ids = await queue.add([{ n: 1 }, { n: 2 }, { n: 3 }])
    expect(ids).toHaveLength(3)
    expect(await queue.add('single')).toHaveLength(1)
    const seen: Array<QueueMessage<unknown>> = []
    const summary = await queue.drain((m) => void seen.push(m), { group: 'g' })
    expect(summary).toEqual({ handled: 4, failed: 0, deadLettered: 0, reclaimed: 0 })
    expect(seen.map((m) => m.payload)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, 'single'])
    expect(seen.map((m) => m.id)).toEqual([...ids, expect.any(String)])
    expect(seen.every((m) => m.deliveries === 1)).toBe(true)
    const stats = await queue.stats()
    expect(stats.length).toBe(4)
    expect(stats.groups).toEqual([expect.objectContaining({ name: 'g', pending: 0 })])
    expect(await queue.drain(() => {}, { group: 'g' })).toEqual({
      handled: 0,
      failed: 0,
      deadLettered: 0,
      reclaimed: 0,
    })
  })

  it('many consumers share the work: every message handled exactly once', { timeout: 60_000 }, async () => {
    const name = `q-${randomUUID()}`
    const producer = queueNamed(name)
    for (let i = 0; i < 6; i++) await producer.add(Array.from({ length: 50 }, (_, j) => ({ n: i * 50 + j })))
    const handled = new Map<number, string>()
    const twice: number[] = []
    const consumers = ['a', 'b', 'c'].map((consumer) =>
      queueNamed(name).drain<{ n: number }>(
        async ({ payload }) => {
          if (handled.has(payload.n)) twice.push(payload.n)
          handled.set(payload.n, consumer)
          await sleep(Math.random() * 3)
        },
        { group: 'workers', consumer, count: 7 },
      ),
    )
    const summaries = await Promise.all(consumers)
    expect(twice).toEqual([])
    expect(handled.size).toBe(300)
    expect(summaries.reduce((n, s) => n + s.handled, 0)).toBe(300)
    expect(new Set(handled.values()).size).toBeGreaterThan(1) // the work was shared
    expect((await producer.stats()).groups[0]!.pending).toBe(0)
  })

  it('a failed message stays pending and is delivered again after claimIdle', {
    timeout: 30_000,
  }, async () => {
    const queue = queueNamed(`q-${randomUUID()}`)
    await queue.add({ job: 'flaky' })
    let attempts = 0
    const handler = ({ deliveries }: QueueMessage<unknown>) => {
      attempts++
      if (deliveries < 2) throw new Error('transient')
    }
    const first = await queue.drain(handler, { group: 'g', consumer: 'c1', claimIdle: '200ms' })
    expect(first).toMatchObject({ handled: 0, failed: 1 })
    expect((await queue.drain(handler, { group: 'g', consumer: 'c1', claimIdle: '200ms' })).handled).toBe(0) // not idle yet
    await sleep(300)
    const second = await queue.drain(handler, { group: 'g', consumer: 'c2', claimIdle: '200ms' })
    expect(second).toMatchObject({ handled: 1, reclaimed: 1 })
    expect(attempts).toBe(2)
  })

  it('a poison message goes to the dead-letter stream after maxDeliveries; the group is not blocked', {
    timeout: 30_000,
  }, async () => {
    const queue = queueNamed(`q-${randomUUID()}`)
    await queue.add([{ n: 1 }, { poison: true }, { n: 2 }])
    const done: number[] = []
    const handler = ({ payload }: QueueMessage<{ n?: number; poison?: boolean }>) => {
      if (payload.poison) throw new Error('cannot parse this')
      done.push(payload.n!)
    }
    let dead = 0
    for (let round = 0; round < 4 && dead === 0; round++) {
      const summary = await queue.drain(handler, { group: 'g', claimIdle: 0, maxDeliveries: 3 })
      dead += summary.deadLettered
    }
    expect(done).toEqual([1, 2])
    expect(dead).toBe(1)
    const letters = await queue.deadLetters()
    expect(letters).toEqual([
      expect.objectContaining({
        payload: { poison: true },
        deliveries: 3,
        group: 'g',
        error: 'cannot parse this',
      }),
    ])
    const stats = await queue.stats()
    expect(stats.deadLetters).toBe(1)
    expect(stats.groups[0]!.pending).toBe(0)
  })

  it('a dead-letter stream of another name, when asked', async () => {
    const queue = queueNamed(`q-${randomUUID()}`)
    await queue.add({ bad: true })
    const failing = () => {
      throw new Error('no')
    }
    const summary = await queue.drain(failing, { group: 'g', maxDeliveries: 1, deadLetter: 'poison' })
    expect(summary).toMatchObject({ failed: 1, deadLettered: 1 })
    expect(await queue.deadLetters(10, 'poison')).toEqual([
      expect.objectContaining({ payload: { bad: true }, error: 'no' }),
    ])
    expect(await queue.deadLetters()).toEqual([])
    await expect(queue.drain(failing, { deadLetter: 'a b' })).rejects.toThrowError(/deadLetter/)
  })

  it('a dead letter whose answer was lost, sent again by the client, is set aside once', async () => {
    // @upstash/redis sends a request again when its connection dies, after the script ran: the
    // second run wrote the dead letter again (one poison message, two dead letters to replay).
    const relay = await startRelay(Number(new URL(proxy.url).port))
    try {
      const name = `q-${randomUUID()}`
      const queue = createQueue({
        redis: { url: `http://127.0.0.1:${relay.port}`, token: TOKENS.standard },
        name,
      })
      const failing = (m: QueueMessage<{ reason: string }>) => {
        throw new Error(m.payload.reason)
      }
      await queue.add({ reason: 'warm-up' })
      await queue.drain(failing, { group: 'g', maxDeliveries: 1 }) // scripts loaded: the lost run is EVALSHA
      await queue.add({ reason: 'poison-pill' })
      relay.loseAnswerTo('poison-pill",') // the dead letter's error argument, not the payload
      expect(await queue.drain(failing, { group: 'g', maxDeliveries: 1 })).toMatchObject({ deadLettered: 1 })
      expect(relay.lost).toBe(1)
      const letters = await queue.deadLetters()
      expect(letters.map((l) => l.error)).toEqual(['warm-up', 'poison-pill'])
    } finally {
      await relay.close()
    }
  })

  it('an add whose answer was lost, sent again by the client, appends its messages once', async () => {
    // @upstash/redis sends a request again when its connection dies, after the script ran: the
    // second run appended the messages again, under new ids, so a handler idempotent by id ran
    // each twice (two e-mails for one add).
    const relay = await startRelay(Number(new URL(proxy.url).port))
    try {
      const queue = createQueue({
        redis: { url: `http://127.0.0.1:${relay.port}`, token: TOKENS.standard },
        name: `q-${randomUUID()}`,
      })
      await queue.add({ order: 'warm-up' }) // the script loaded on the queue's node: the lost run is EVALSHA
      relay.loseAnswerTo('order-42')
      const ids = await queue.add([{ order: 'order-42' }, { order: 'order-43' }])
      expect(relay.lost).toBe(1)
      expect(ids).toHaveLength(2)
      const seen: Array<QueueMessage<{ order: string }>> = []
      await queue.drain<{ order: string }>((m) => void seen.push(m), { group: 'g' })
      expect(seen.map((m) => m.payload.order)).toEqual(['warm-up', 'order-42', 'order-43'])
      // The ids the retried call answered are those of the messages appended by its first run.
      expect(seen.slice(1).map((m) => m.id)).toEqual(ids)
      // A new call with the same payloads is a new add: the dedupe is per call, not per payload.
      await queue.add([{ order: 'order-42' }])
      expect((await queue.stats()).length).toBe(4)
    } finally {
      await relay.close()
    }
  })

  it('MAXLEN trimming keeps the stream bounded', { timeout: 60_000 }, async () => {
    const queue = queueNamed(`q-${randomUUID()}`)
    for (let i = 0; i < 10; i++)
      await queue.add(
        Array.from({ length: 500 }, (_, j) => i * 500 + j),
        { maxLen: 1000 },
      )
    const { length } = await queue.stats()
    expect(length).toBeGreaterThanOrEqual(1000)
    expect(length).toBeLessThan(1200) // approximate trimming: whole macro nodes of 100 entries
  })

  it('maxLen trims only what every group has acknowledged: a group behind loses nothing (XADD MAXLEN deleted its work), and the stream is bounded again once it catches up', {
    timeout: 60_000,
  }, async () => {
    const queue = queueNamed(`q-${randomUUID()}`)
    const numbers = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i)
    await queue.add(numbers(0, 50))
    const fast: number[] = []
    const keepUp = () => queue.drain(({ payload }) => void fast.push(payload as number), { group: 'fast' })
    await keepUp()
    // The slow group (a reporting job, say) handles 0 to 9; 10 fails once, so it stays pending.
    const slow: number[] = []
    const slowly = ({ payload, deliveries }: QueueMessage<unknown>) => {
      if (payload === 10 && deliveries === 1) throw new Error('flaky')
      slow.push(payload as number)
    }
    expect(await queue.drain(slowly, { group: 'slow', count: 11, maxMessages: 11 })).toMatchObject({
      handled: 10,
      failed: 1,
    })
    for (let i = 0; i < 20; i++) {
      await queue.add(numbers(50 + i * 100, 100), { maxLen: 100 })
      await keepUp()
    }
    expect(fast).toEqual(numbers(0, 2050))
    // The slow group's 2,040 (its pending one among them) are all still there, far past the bound.
    const behind = await queue.stats()
    expect(behind.length).toBeGreaterThanOrEqual(2040)
    expect(behind.groups.find((g) => g.name === 'slow')).toMatchObject({ pending: 1, lag: 2039 })
    await sleep(20)
    await queue.drain(slowly, { group: 'slow', claimIdle: '10ms', count: 500 })
    expect(slow.sort((a, b) => a - b)).toEqual(numbers(0, 2050))
    // Every group has every message: the next add trims back to about the bound.
    await queue.add([2050], { maxLen: 100 })
    expect((await queue.stats()).length).toBeLessThan(300)
  })

  it('a consumer killed mid-batch (SIGKILL) loses nothing: another reclaims and handles its messages', {
    timeout: 60_000,
  }, async () => {
    const name = `q-${randomUUID()}`
    const queue = queueNamed(name)
    await queue.add(Array.from({ length: 50 }, (_, n) => ({ n })))
    const child = spawn(
      'node_modules/.bin/tsx',
      ['test/queue/fixtures/stuck-consumer.ts', proxy.url, TOKENS.standard, name, 'workers', '20'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    for await (const line of createInterface({ input: child.stdout })) if (line.startsWith('took')) break
    const exited = new Promise((r) => child.on('exit', r))
    child.kill('SIGKILL')
    await exited
    const handled: number[] = []
    const handler = ({ payload }: QueueMessage<{ n: number }>) => void handled.push(payload.n)
    const options = { group: 'workers', consumer: 'survivor', claimIdle: '300ms' } as const
    const now = await queue.drain(handler, options)
    expect(now).toMatchObject({ handled: 30, reclaimed: 0 }) // the dead consumer's 20 are not idle long enough yet
    await sleep(400)
    const later = await queue.drain(handler, options)
    expect(later).toMatchObject({ handled: 20, reclaimed: 20 })
    expect(handled.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, n) => n))
    const stats = await queue.stats()
    expect(stats.groups[0]!.pending).toBe(0)
    expect(stats.groups[0]!.consumers.find((c) => c.name === 'doomed')?.pending).toBe(0)
  })

  it('consume runs until its signal aborts, waiting on the proxy for new messages', {
    timeout: 30_000,
  }, async () => {
    const queue = queueNamed(`q-${randomUUID()}`)
    const controller = new AbortController()
    const got: unknown[] = []
    const running = queue.consume(
      ({ payload }) => {
        got.push(payload)
        if (got.length === 2) controller.abort()
      },
      { group: 'g', blockMs: 200, signal: controller.signal },
    )
    await sleep(100)
    await queue.add('first')
    await sleep(100)
    await queue.add('second')
    expect(await running).toMatchObject({ handled: 2 })
    expect(got).toEqual(['first', 'second'])
  })

  it('bad options throw, naming themselves', async () => {
    expect(() => createQueue({ redis: { url: proxy.url, token: 't' }, name: 'a{b}' })).toThrowError(
      InvalidOptionError,
    )
    expect(() => createQueue({ redis: {} as { url: string; token: string }, name: 'x' })).toThrowError(
      /redis/,
    )
    expect(() =>
      createQueue({ redis: { url: proxy.url, token: 't' }, name: 'x', namespace: 'a{b}' }),
    ).toThrowError(/^Invalid option namespace: must be 1 to 200 characters without braces, got "a\{b\}"$/)
    const queue = queueNamed('x')
    await expect(queue.drain(() => {}, { count: 0 })).rejects.toThrowError(/count/)
    await expect(queue.consume(() => {})).rejects.toThrowError(/signal/)
    await expect(queue.drain(() => {}, { from: 'middle' as 'start' })).rejects.toThrowError(/from/)
    // A misspelt maxLen used to be ignored: the stream grew without bound.
    await expect(queue.add([1], { maxlen: 10 } as never)).rejects.toThrowError(
      /maxlen: is not an option \(did you mean maxLen\?\)/,
    )
    // The controller instead of its signal used to be taken, and consume never stopped.
    const controller = new AbortController()
    await expect(queue.consume(() => {}, { signal: controller as never })).rejects.toThrowError(
      /Invalid option signal: must be an AbortSignal/,
    )
  })

  it("stats() reports each group's backlog (lag): what is in the stream and not yet delivered to it", async () => {
    const queue = queueNamed(`q-${randomUUID()}`)
    await queue.add(Array.from({ length: 10 }, (_, n) => n))
    await queue.drain(() => {}, { group: 'fast', maxMessages: 10 })
    await queue.drain(() => {}, { group: 'slow', count: 3, maxMessages: 3 })
    const byName = Object.fromEntries((await queue.stats()).groups.map((g) => [g.name, g]))
    expect(byName.fast).toMatchObject({ lag: 0, pending: 0 })
    expect(byName.slow).toMatchObject({ lag: 7, pending: 0 })
    await queue.add([10, 11])
    const after = Object.fromEntries((await queue.stats()).groups.map((g) => [g.name, g.lag]))
    expect(after).toEqual({ fast: 2, slow: 9 })
  })

  it('a handler that is not a function is refused before any message is read (it used to fail them all)', async () => {
    const queue = queueNamed(`q-${randomUUID()}`)
    await queue.add([{ n: 1 }, { n: 2 }])
    await expect(queue.drain(undefined as never, { group: 'g' })).rejects.toThrowError(
      /Invalid option handler: must be a function, got undefined/,
    )
    const controller = new AbortController()
    await expect(
      queue.consume('send' as never, { group: 'g', signal: controller.signal }),
    ).rejects.toThrowError(/handler: must be a function, got "send"/)
    // Nothing was delivered: the group never read them.
    const handled: unknown[] = []
    expect(await queue.drain(({ payload }) => void handled.push(payload), { group: 'g' })).toMatchObject({
      handled: 2,
      failed: 0,
    })
    expect(handled).toEqual([{ n: 1 }, { n: 2 }])
  })

  it('a payload JSON cannot carry is refused by name, BigInt and cycles included', async () => {
    const queue = queueNamed(`q-${randomUUID()}`)
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    await expect(queue.add([{ ok: 1 }, { n: 1n }])).rejects.toThrowError(
      /Invalid option payloads: item 1 is not JSON \(.*BigInt/,
    )
    await expect(queue.add([cycle])).rejects.toThrowError(
      /Invalid option payloads: item 0 is not JSON \(.*circular/,
    )
    await expect(queue.add([undefined])).rejects.toThrowError(/item 0 is not JSON \(undefined\)/)
    // Nothing of a refused batch was added.
    expect((await queue.stats()).length).toBe(0)
  })
})
