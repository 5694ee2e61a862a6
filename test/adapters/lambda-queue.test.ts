/**
 * withQueueConsumer: a scheduled Lambda draining a tiercache/queue within its remaining time,
 * on the real cluster through the proxy.
 */
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Context } from 'aws-lambda'
import { withQueueConsumer } from 'tiercache/lambda'
import { createQueue } from 'tiercache/queue'
import { afterAll, beforeAll, expect, inject, it } from 'vitest'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { startTestProxy, TOKENS } from '../helpers/proxy.js'

let proxy: RunningProxy
beforeAll(async () => {
  proxy = await startTestProxy({ redis: inject('clusterUrl') })
})
afterAll(() => proxy.close('1s'))

const scheduled = JSON.parse(
  readFileSync(new URL('./fixtures/lambda/scheduled.json', import.meta.url), 'utf8'),
)
const contextWith = (remainingMs: number) => {
  const deadline = Date.now() + remainingMs
  return { awsRequestId: 'test', getRemainingTimeInMillis: () => deadline - Date.now() } as unknown as Context
}

it('drains the queue within the invocation, and stops when its time is up', { timeout: 30_000 }, async () => {
  const queue = createQueue({
    redis: { url: proxy.url, token: TOKENS.standard },
    name: `lambda-${randomUUID()}`,
  })
  await queue.add(Array.from({ length: 30 }, (_, n) => ({ n })))
  const seen: number[] = []
  const handler = withQueueConsumer<{ n: number }>(
    queue,
    async ({ payload }, context) => {
      expect(context.awsRequestId).toBe('test')
      seen.push(payload.n)
    },
    { group: 'mailers', count: 10 },
  )
  expect(await handler(scheduled, contextWith(10_000))).toEqual({
    handled: 30,
    failed: 0,
    deadLettered: 0,
    reclaimed: 0,
  })
  expect(seen).toEqual(Array.from({ length: 30 }, (_, n) => n))
  // Too little time left beyond the reserve: nothing is started.
  await queue.add({ n: 30 })
  expect((await handler(scheduled, contextWith(1500))).handled).toBe(0)
  // A slow handler: the drain stops at the deadline, the rest waits for the next invocation.
  await queue.add(Array.from({ length: 20 }, (_, n) => ({ n: 31 + n })))
  const slow = withQueueConsumer(queue, () => new Promise((r) => setTimeout(r, 50)), {
    group: 'mailers',
    count: 1,
    reserveMs: 0,
  })
  const summary = await slow(scheduled, contextWith(300))
  expect(summary.handled).toBeGreaterThan(0)
  expect(summary.handled).toBeLessThan(21)
})

it('a bad handler or option is refused when the function is set up, not at its first invocation', () => {
  const queue = createQueue({ redis: { url: proxy.url, token: TOKENS.standard }, name: 'setup' })
  expect(() => withQueueConsumer(queue, undefined as never)).toThrowError(
    /Invalid option handler: must be a function, got undefined/,
  )
  expect(() => withQueueConsumer(queue, () => {}, { count: 0 })).toThrowError(/Invalid option count/)
  expect(() => withQueueConsumer(queue, () => {}, { grup: 'mailers' } as never)).toThrowError(
    /Invalid option grup: is not an option \(did you mean group\?\)/,
  )
  expect(() => withQueueConsumer(queue, () => {}, { reserveMs: -1 })).toThrowError(/reserveMs/)
})
