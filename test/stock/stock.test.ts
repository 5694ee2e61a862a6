/**
 * The flash-sale stock counter on the real cluster through the proxy: each operation's rules,
 * then 2,000 concurrent purchases from 4 OS processes on a stock of 100.
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { Redis } from '@upstash/redis'
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

  it('init, initIfAbsent and give whose answers were lost, sent again by the client, answer as they did and change nothing more', async () => {
    // Before: init run again reset the sale (what was sold in between was sold again, its buyers
    // forgotten); initIfAbsent run again said it had not started the sale; give run again said it
    // gave nothing back, for the unit it had just put back on sale.
    const relay = await startRelay(Number(new URL(proxy.url).port))
    try {
      const namespace = `sale-${randomUUID()}`
      const token = TOKENS.standard
      // The client sends a request again 300 ms after its answer was lost: room for a purchase.
      const retrying = new Redis({
        url: `http://127.0.0.1:${relay.port}`,
        token,
        retry: { retries: 2, backoff: () => 300 },
      })
      const lossy = createStock({ redis: retrying, namespace })
      const direct = stockIn(namespace)
      const lost = async (count: number) => {
        for (const deadline = Date.now() + 5_000; relay.lost < count && Date.now() < deadline; )
          await new Promise((r) => setTimeout(r, 5))
        expect(relay.lost).toBe(count)
      }
      await lossy.init('lamp', 5) // each script loaded on the lamp's node first: the lost runs are EVALSHA
      relay.loseAnswerTo('{lamp}')
      const restart = lossy.init('lamp', 5)
      await lost(1)
      expect(await direct.take('lamp', 'ada')).toEqual({ ok: true, left: 4 }) // between the two runs
      await restart
      expect(await direct.left('lamp')).toBe(4)
      expect(await direct.take('lamp', 'ada')).toMatchObject({ ok: false, reason: 'already_bought' })

      await lossy.initIfAbsent('desk', 3)
      await new Redis({ url: proxy.url, token }).del(
        ...['left', 'buyers', 'sale'].map((k) => `${namespace}:{desk}:${k}`),
      )
      relay.loseAnswerTo('{desk}')
      expect(await lossy.initIfAbsent('desk', 3)).toEqual({ initialized: true, left: 3 })
      await lost(2)
      expect(await direct.initIfAbsent('desk', 3)).toEqual({ initialized: false, left: 3 })

      await lossy.give('lamp', 'nobody')
      expect(await direct.take('lamp', 'giver-bob')).toEqual({ ok: true, left: 3 })
      relay.loseAnswerTo('giver-bob')
      expect(await lossy.give('lamp', 'giver-bob')).toEqual({ given: 1, left: 4 })
      await lost(3)
      expect(await lossy.give('lamp', 'giver-bob')).toEqual({ given: 0, left: 4 }) // a new call: nothing
      expect(await direct.take('lamp', 'giver-bob')).toEqual({ ok: true, left: 3 }) // may buy again
    } finally {
      await relay.close()
    }
  })

  it('give with a purchase id gives back that purchase only: a late one cannot undo the next order', async () => {
    const stock = stockIn(`sale-${randomUUID()}`)
    await stock.init('lamp', 5)
    expect(await stock.take('lamp', 'carol', 1, { id: 'order-1' })).toEqual({ ok: true, left: 4 })
    expect(await stock.give('lamp', 'carol', { id: 'order-1' })).toEqual({ given: 1, left: 5 }) // payment failed
    expect(await stock.take('lamp', 'carol', 1, { id: 'order-2' })).toEqual({ ok: true, left: 4 })
    // The payment-failed webhook for order 1, delivered again: order 2 stands.
    expect(await stock.give('lamp', 'carol', { id: 'order-1' })).toEqual({ given: 0, left: 4 })
    expect(await stock.take('lamp', 'carol', 1, { id: 'order-3' })).toMatchObject({
      reason: 'already_bought',
    })
    expect(await stock.give('lamp', 'carol', { id: 'order-2' })).toEqual({ given: 1, left: 5 })
    await expect(stock.give('lamp', 'carol', { id: '' })).rejects.toThrowError(/^Invalid option id:/)
    await expect(stock.give('lamp', 'carol', { ID: 'x' } as never)).rejects.toThrowError(/ID/)
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
