/**
 * The flash-sale stock counter on the real cluster through the proxy: each operation's rules,
 * then 2,000 concurrent purchases from 4 OS processes on a stock of 100.
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { InvalidOptionError } from 'tiercache'
import { createStock } from 'tiercache/stock'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { startTestProxy, TOKENS } from '../helpers/proxy.js'
import { startRelay } from '../helpers/tcp-relay.js'

let proxy: RunningProxy
beforeAll(async () => {
  proxy = await startTestProxy({ redis: inject('clusterUrl') })
})
afterAll(() => proxy.close('1s'))

const stockIn = (namespace: string) =>
  createStock({ redis: { url: proxy.url, token: TOKENS.standard }, namespace })

describe('stock', () => {
  it('take: once per user, never below zero; give undoes; left reads', async () => {
    const stock = stockIn(`sale-${randomUUID()}`)
    expect(await stock.take('lamp', 'ada')).toEqual({ ok: false, reason: 'not_started', left: 0 })
    await stock.init('lamp', 3)
    expect(await stock.take('lamp', 'ada')).toEqual({ ok: true, left: 2 })
    expect(await stock.take('lamp', 'ada')).toEqual({ ok: false, reason: 'already_bought', left: 2 })
    expect(await stock.take('lamp', 'grace', 2)).toEqual({ ok: true, left: 0 })
    expect(await stock.take('lamp', 'linus')).toEqual({ ok: false, reason: 'sold_out', left: 0 })
    expect(await stock.give('lamp', 'grace')).toEqual({ given: 2, left: 2 })
    expect(await stock.give('lamp', 'grace')).toEqual({ given: 0, left: 2 })
    expect(await stock.take('lamp', 'linus', 3)).toEqual({ ok: false, reason: 'sold_out', left: 2 })
    expect(await stock.take('lamp', 'linus')).toEqual({ ok: true, left: 1 })
    expect(await stock.left('lamp')).toBe(1)
    expect(await stock.left('never-on-sale')).toBe(0)
    await stock.init('lamp', 10) // a new sale: buyers forgotten
    expect(await stock.take('lamp', 'ada')).toEqual({ ok: true, left: 9 })
  })

  it('initIfAbsent starts a sale once: a second start (a restart, another instance) leaves it running', async () => {
    const stock = stockIn(`sale-${randomUUID()}`)
    expect(await stock.initIfAbsent('lamp', 3)).toEqual({ initialized: true, left: 3 })
    expect(await stock.take('lamp', 'ada')).toEqual({ ok: true, left: 2 })
    // With init, this put the lamp back at 3 and forgot ada: she could buy again, and 4 were sold.
    expect(await stock.initIfAbsent('lamp', 3)).toEqual({ initialized: false, left: 2 })
    expect(await stock.take('lamp', 'ada')).toEqual({ ok: false, reason: 'already_bought', left: 2 })
    // Concurrent starts: exactly one initializes.
    const starts = await Promise.all(Array.from({ length: 20 }, () => stock.initIfAbsent('desk', 5)))
    expect(starts.filter((s) => s.initialized)).toHaveLength(1)
    expect(starts.every((s) => s.left === 5)).toBe(true)
    await expect(stock.initIfAbsent('lamp', -1)).rejects.toThrowError(
      /^Invalid option quantity: must be an integer ≥ 0/,
    )
  })

  it('a purchase whose answer was lost, retried by the client, answers ok (it was a purchase, not already_bought)', async () => {
    // @upstash/redis retries a request whose connection died: the script had run, and its second
    // run found the buyer recorded. The buyer was told already_bought for the unit just sold to
    // them (the flash-sale example then queued no order).
    const relay = await startRelay(Number(new URL(proxy.url).port))
    try {
      const namespace = `sale-${randomUUID()}`
      const stock = createStock({
        redis: { url: `http://127.0.0.1:${relay.port}`, token: TOKENS.standard },
        namespace,
      })
      await stock.init('lamp', 5)
      await stock.take('lamp', 'warm-up') // the script loaded on the lamp's node: the lost run is EVALSHA
      relay.loseAnswerTo('buyer-ada')
      expect(await stock.take('lamp', 'buyer-ada')).toEqual({ ok: true, left: 3 })
      expect(relay.lost).toBe(1)
      expect(await stock.left('lamp')).toBe(3) // one unit, not two
      // A second purchase (a new call) is still refused...
      expect(await stock.take('lamp', 'buyer-ada')).toEqual({ ok: false, reason: 'already_bought', left: 3 })
      // ...unless it is the same purchase again, named by its id (a client's Idempotency-Key).
      expect(await stock.take('lamp', 'grace', 1, { id: 'order-7' })).toEqual({ ok: true, left: 2 })
      expect(await stock.take('lamp', 'grace', 1, { id: 'order-7' })).toEqual({ ok: true, left: 2 })
      expect(await stock.take('lamp', 'grace', 1, { id: 'order-8' })).toEqual({
        ok: false,
        reason: 'already_bought',
        left: 2,
      })
      expect(await stock.take('lamp', 'grace', 2, { id: 'order-7' })).toEqual({
        ok: false,
        reason: 'already_bought',
        left: 2,
      })
      // give reads the quantity back from the new record.
      expect(await stock.give('lamp', 'grace')).toEqual({ given: 1, left: 3 })
      expect(await stock.left('lamp')).toBe(3)
    } finally {
      await relay.close()
    }
  })

  it('bad input throws, naming it', async () => {
    const stock = stockIn('x')
    await expect(stock.init('lamp', -1)).rejects.toThrowError(InvalidOptionError)
    await expect(stock.take('lamp', 'ada', 0)).rejects.toThrowError(/n/)
    await expect(stock.take('la{mp}', 'ada')).rejects.toThrowError(/braces/)
    await expect(stock.take('lamp', '')).rejects.toThrowError(/user/)
    await expect(stock.take('lamp', 'ada', 1, { id: '' })).rejects.toThrowError(/^Invalid option id/)
    await expect(stock.take('lamp', 'ada', 1, { key: 'k' } as never)).rejects.toThrowError(/key/)
    expect(() => createStock({ redis: {} as { url: string; token: string } })).toThrowError(/redis/)
  })

  it('2,000 concurrent takes from 4 OS processes on a stock of 100: exactly 100 succeed, no user twice, 0 left', {
    timeout: 60_000,
  }, async () => {
    const namespace = `sale-${randomUUID()}`
    const stock = stockIn(namespace)
    await stock.init('console', 100)
    const startAt = String(Date.now() + 4000) // after every process has started
    const runs = await Promise.all(
      [0, 1, 2, 3].map(
        (index) =>
          new Promise<Array<{ user: string; ok: boolean; left: number; reason?: string }>>(
            (resolve, reject) => {
              const child = spawn(
                'node_modules/.bin/tsx',
                [
                  'test/stock/fixtures/buyer.ts',
                  proxy.url,
                  TOKENS.standard,
                  namespace,
                  'console',
                  String(index),
                  '500',
                  '1500',
                  startAt,
                ],
                { stdio: ['ignore', 'pipe', 'inherit'] },
              )
              let out = ''
              child.stdout.on('data', (c: Buffer) => {
                out += c
              })
              child.on('exit', (code) =>
                code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`exit ${code}`)),
              )
            },
          ),
      ),
    )
    const answers = runs.flat()
    expect(answers).toHaveLength(2000)
    const wins = answers.filter((a) => a.ok)
    expect(wins).toHaveLength(100)
    expect(new Set(wins.map((w) => w.user)).size).toBe(100) // no user twice
    // Every success saw a distinct count from 99 down to 0: the count never went below zero.
    expect(wins.map((w) => w.left).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i))
    expect(
      answers.filter((a) => !a.ok).every((a) => a.reason === 'sold_out' || a.reason === 'already_bought'),
    ).toBe(true)
    expect(await stock.left('console')).toBe(0)
  })
})
