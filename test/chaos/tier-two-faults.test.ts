/**
 * Faults under load, with the cache in front (loopback, bounded in time):
 * - the proxy is SIGKILLed under load, then restarted: no user-facing error (fail open to the
 *   loader), every request bounded by the tier-2 timeout, tier 2 used again once it is back;
 * - tier 2 turns slow (a delaying TCP relay between the proxy and Redis): timeouts fire, the
 *   circuit breaker opens, requests stay fast, and it closes once tier 2 is quick again.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createCache } from '../../src/index.js'
import { findFreePortRange } from '../helpers/ports.js'
import { TOKENS } from '../helpers/proxy.js'
import { type RedisProcess, startRedisServer } from '../helpers/redis-servers.js'
import { startRelay } from '../helpers/tcp-relay.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The built proxy as its own process (so it can be SIGKILLed), answering once it is ready. */
async function proxyProcess(port: number, args: string[]): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      'dist/cli/main.js',
      'proxy',
      '--port',
      String(port),
      '--token',
      TOKENS.standard,
      '--log-level',
      'silent',
      ...args,
    ],
    { stdio: 'ignore' },
  )
  const deadline = Date.now() + 15_000
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return child
    } catch {}
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error('the proxy did not start')
    }
    await sleep(50)
  }
}

/** Load: `workers` loops of getOrLoad over 50 keys until `until`; every call timed and checked. */
async function load(cache: ReturnType<typeof createCache>, workers: number, until: number) {
  const latencies: number[] = []
  const errors: unknown[] = []
  let wrong = 0
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let i = 0; Date.now() < until; i++) {
        const key = `item:${(w * 7 + i) % 50}`
        const started = performance.now()
        try {
          const value = await cache.getOrLoad(key, async (k) => {
            await sleep(2)
            return { k }
          })
          if (value?.k !== key) wrong++
        } catch (error) {
          errors.push(error)
        }
        latencies.push(performance.now() - started)
        await sleep(1)
      }
    }),
  )
  latencies.sort((a, b) => a - b)
  return {
    count: latencies.length,
    max: latencies.at(-1) ?? 0,
    p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
    errors,
    wrong,
  }
}

describe('the proxy killed under load (SIGKILL), then restarted', () => {
  let port: number
  beforeAll(async () => {
    port = await findFreePortRange(1, false)
  })

  it('no user-facing error, latency bounded by the tier-2 timeout, tier 2 used again after', {
    timeout: 60_000,
  }, async () => {
    const args = ['--redis', inject('clusterUrl')]
    let proxy = await proxyProcess(port, args)
    const cache = createCache({
      redis: { url: `http://127.0.0.1:${port}`, token: TOKENS.standard },
      namespace: `chaos-${Date.now()}`,
      timeouts: { l2: '100ms' },
      breaker: { failures: 5, cooldown: '300ms' },
      l1: { ttl: '100ms' }, // short: tier 2 is asked all the time
    })
    try {
      const running = load(cache, 4, Date.now() + 4000)
      await sleep(1000)
      const killed = proxy
      const exited = once(killed, 'exit')
      killed.kill('SIGKILL')
      // "While it was down" starts once it is gone: an answer already on its way when the signal
      // was sent may still arrive (the proxy answers in well under a millisecond), so wait for the
      // exit and let such answers land first.
      await exited
      await sleep(50)
      const l2Before = cache.stats().hits.l2
      await sleep(1000)
      const l2During = cache.stats().hits.l2
      proxy = await proxyProcess(port, args)
      const restartedAt = cache.stats().hits.l2
      const result = await running
      const l2After = cache.stats().hits.l2
      console.log(
        `proxy killed under load: ${result.count} requests, ${result.errors.length} errors, max ${result.max.toFixed(0)} ms, p99 ${result.p99.toFixed(0)} ms; tier-2 hits while it was down: ${l2During - l2Before}, after the restart: ${l2After - restartedAt}; circuit ${cache.stats().circuit}`,
      )
      expect(result.errors).toEqual([])
      expect(result.wrong).toBe(0)
      // The 100 ms tier-2 timeout, a 2 ms loader, and room for a loaded 2-core machine.
      expect(result.max).toBeLessThan(600)
      expect(l2During - l2Before).toBe(0)
      expect(l2After - restartedAt).toBeGreaterThan(0) // tier 2 is used again
      expect(cache.stats().circuit).toBe('closed')
    } finally {
      proxy.kill('SIGKILL')
    }
  })
})

describe('a slow tier 2 (a delaying relay between the proxy and Redis)', () => {
  let redis: RedisProcess
  let proxy: ChildProcess | undefined
  beforeAll(async () => {
    redis = await startRedisServer(await findFreePortRange(1, false))
  })
  afterAll(async () => {
    proxy?.kill('SIGKILL')
    await redis?.stop()
  })

  it('timeouts fire, the breaker opens and requests stay fast; it closes when tier 2 is quick again', {
    timeout: 60_000,
  }, async () => {
    const relay = await startRelay(redis.port)
    const port = await findFreePortRange(1, false)
    proxy = await proxyProcess(port, ['--mode', 'standalone', '--redis', `redis://127.0.0.1:${relay.port}`])
    const circuit: string[] = []
    const cache = createCache({
      redis: { url: `http://127.0.0.1:${port}`, token: TOKENS.standard },
      timeouts: { l2: '100ms' },
      breaker: { failures: 3, cooldown: '500ms' },
      l1: { ttl: '50ms' },
      onEvent: (e) => {
        if (e.type === 'circuit') circuit.push(e.state)
      },
    })
    try {
      const quick = await load(cache, 2, Date.now() + 500)
      expect(quick.errors).toEqual([])
      relay.delayMs = 400 // slower than the tier-2 timeout
      const slow = await load(cache, 2, Date.now() + 1500)
      expect(slow.errors).toEqual([])
      expect(circuit).toContain('open')
      expect(cache.stats().l2Errors).toBeGreaterThanOrEqual(3)
      expect(slow.max).toBeLessThan(600) // bounded by the 100 ms timeout, not the 400 ms delay
      relay.delayMs = 0
      const healed = await load(cache, 2, Date.now() + 2500)
      expect(healed.errors).toEqual([])
      expect(circuit.at(-1)).toBe('closed')
      console.log(
        `slow tier 2: ${slow.count} requests while it was slow, max ${slow.max.toFixed(0)} ms; circuit ${circuit.join(' → ')}`,
      )
    } finally {
      await relay.close()
    }
  })
})
