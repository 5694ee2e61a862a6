/**
 * The upstream's state in the proxy's log: one warning when it becomes unreachable (not one per
 * retry of ioredis), one line when it is connected again. Real servers: a standalone Redis started
 * after the proxy, stopped, started again; the suite's cluster. (A cluster node killed under load:
 * `test/proxy/failover.test.ts`.)
 */
import { EventEmitter } from 'node:events'
import type { Redis } from 'ioredis'
import { describe, expect, inject, it } from 'vitest'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import type { Upstream } from '../../src/proxy/upstream.js'
import { logUpstreamState } from '../../src/proxy/upstream-log.js'
import { captureLog, type LogLine } from '../helpers/log-capture.js'
import { findFreePortRange } from '../helpers/ports.js'
import { startTestProxy } from '../helpers/proxy.js'
import { type RedisProcess, startRedisServer } from '../helpers/redis-servers.js'

/** Resolves once `count` errors were emitted by the proxy's upstream client (its retries). */
function errorsSeen(proxy: RunningProxy, count: number): Promise<void> {
  const client = proxy.proxy.upstream.client as Redis
  return new Promise((resolve) => {
    let seen = 0
    const onError = () => {
      if (++seen < count) return
      client.off('error', onError)
      resolve()
    }
    client.on('error', onError)
  })
}

function readyOnce(proxy: RunningProxy): Promise<void> {
  return new Promise((resolve) => proxy.proxy.upstream.client.once('ready', () => resolve()))
}

const messages = (lines: LogLine[]) => lines.map((l) => `${l.level} ${l.msg}`)

describe('the upstream in the proxy log', () => {
  it('standalone: unreachable once for many retries, connected when it comes, unreachable when it goes, connected again', async () => {
    const port = await findFreePortRange(1, false)
    const { logger, lines } = captureLog()
    const proxy = await startTestProxy({ mode: 'standalone', redis: `redis://127.0.0.1:${port}`, logger })
    let redis: RedisProcess | undefined
    try {
      await errorsSeen(proxy, 4) // four refused connection attempts
      const unreachable = 'upstream unreachable: requests are answered 503 until it is back'
      expect(messages(lines)).toEqual([`40 ${unreachable}`])
      expect(lines[0]!.error).toMatch(/ECONNREFUSED/)
      const ready = readyOnce(proxy)
      redis = await startRedisServer(port)
      await ready
      expect(messages(lines)).toEqual([`40 ${unreachable}`, '30 upstream connected'])
      const lost = errorsSeen(proxy, 3)
      await redis.stop()
      redis = undefined
      await lost
      expect(messages(lines)).toEqual([`40 ${unreachable}`, '30 upstream connected', `40 ${unreachable}`])
      const back = readyOnce(proxy)
      redis = await startRedisServer(port)
      await back
      expect(messages(lines).slice(3)).toEqual(['30 upstream connected again'])
    } finally {
      await redis?.stop()
      await proxy.close('1s')
    }
  })

  it('cluster: connected, and nothing else while it stays up', async () => {
    const { logger, lines } = captureLog()
    const proxy = await startTestProxy({ redis: inject('clusterUrl'), logger })
    try {
      const client = proxy.proxy.upstream.client
      if (client.status !== 'ready') await readyOnce(proxy)
      await client.ping()
      expect(messages(lines)).toEqual(['30 upstream connected'])
      expect(lines[0]!.mode).toBe('cluster')
    } finally {
      await proxy.close('1s')
    }
  })

  it('a failing cluster node: at most one line a minute for it, none before the first connection', () => {
    // ioredis emits `node error` on every retry, and drops and takes the node in again on each
    // slot refresh: the failover test logged it 20 times before the spacing.
    const { logger, lines } = captureLog()
    const client = new EventEmitter()
    let clock = 0
    const upstream = { mode: 'cluster', client, lastError: () => undefined } as unknown as Upstream
    logUpstreamState(upstream, logger, () => clock)
    client.emit('node error', new Error('Connection is closed.'), '127.0.0.1:7000') // not yet connected
    client.emit('ready')
    for (const at of [0, 200, 30_000, 59_999, 60_000, 61_000]) {
      clock = at
      client.emit('node error', new Error('connect ECONNREFUSED'), '127.0.0.1:7000')
      client.emit('node error', new Error('connect ECONNREFUSED'), '127.0.0.1:7001')
    }
    expect(lines.map((l) => `${l.msg} ${l.node}`)).toEqual([
      'upstream connected undefined',
      'upstream node unreachable 127.0.0.1:7000',
      'upstream node unreachable 127.0.0.1:7001',
      'upstream node unreachable 127.0.0.1:7000',
      'upstream node unreachable 127.0.0.1:7001',
    ])
  })
})
