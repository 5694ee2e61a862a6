import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { post, startTestProxy } from '../helpers/proxy.js'

let proxy: RunningProxy
const ns = `blk-${Date.now()}`

beforeAll(async () => {
  proxy = await startTestProxy({ redis: inject('clusterUrl'), maxBlocking: 2, maxBlock: '400ms' })
})
afterAll(() => proxy.close('1s'))

describe('blocking commands run on dedicated connections', () => {
  it('BLPOP waits for a push, while other requests are not held up', async () => {
    const waiting = post(proxy.url, '/', ['BLPOP', `${ns}:q`, '5'])
    const started = Date.now()
    for (let i = 0; i < 5; i++) expect((await post(proxy.url, '/', ['GET', `${ns}:other`])).status).toBe(200)
    // Not held up: far inside the BLPOP's 5 s. (200 ms was once exceeded, 204 ms, by five GETs on
    // a fresh proxy while the whole suite ran on this shared 2-core machine in a slow spell.)
    expect(Date.now() - started).toBeLessThan(1000)
    await post(proxy.url, '/', ['RPUSH', `${ns}:q`, 'job-1'])
    const popped = await waiting
    expect(popped.json()).toEqual({ result: [`${ns}:q`, 'job-1'] })
  })

  it('an infinite or too long block is shortened to the maximum block time', async () => {
    for (const command of [
      ['BLPOP', `${ns}:empty`, '0'],
      ['BRPOP', `${ns}:empty`, '3600'],
      ['BZPOPMIN', `${ns}:emptyz`, '0'],
      ['XREAD', 'BLOCK', '0', 'STREAMS', `${ns}:stream`, '$'],
    ]) {
      const started = Date.now()
      const response = await post(proxy.url, '/', command)
      const elapsed = Date.now() - started
      expect(response.json(), command.join(' ')).toEqual({ result: null })
      expect(elapsed).toBeGreaterThanOrEqual(350)
      expect(elapsed).toBeLessThan(2000)
    }
  })

  it('XREADGROUP BLOCK returns as soon as a message arrives', async () => {
    const stream = `${ns}:{jobs}`
    await post(proxy.url, '/', ['XGROUP', 'CREATE', stream, 'workers', '$', 'MKSTREAM'])
    const reading = post(proxy.url, '/', [
      'XREADGROUP',
      'GROUP',
      'workers',
      'w1',
      'COUNT',
      '1',
      'BLOCK',
      '5000',
      'STREAMS',
      stream,
      '>',
    ])
    await new Promise((r) => setTimeout(r, 50))
    await post(proxy.url, '/', ['XADD', stream, '*', 'job', '42'])
    const result = (await reading).json() as { result: Array<[string, Array<[string, string[]]>]> }
    expect(result.result[0]![0]).toBe(stream)
    expect(result.result[0]![1][0]![1]).toEqual(['job', '42'])
  })

  it('past the cap of dedicated connections: 429 JSON, and the cap frees up afterwards', async () => {
    const a = post(proxy.url, '/', ['BLPOP', `${ns}:cap1`, '0.3'])
    const b = post(proxy.url, '/', ['BLPOP', `${ns}:cap2`, '0.3'])
    await new Promise((r) => setTimeout(r, 50))
    const third = await post(proxy.url, '/', ['BLPOP', `${ns}:cap3`, '0.3'])
    expect(third.status).toBe(429)
    expect(third.json()).toEqual({ error: expect.stringMatching(/too many blocking commands/) })
    expect((await a).status).toBe(200)
    expect((await b).status).toBe(200)
    expect((await post(proxy.url, '/', ['BLPOP', `${ns}:cap3`, '0.1'])).status).toBe(200)
  })
})
