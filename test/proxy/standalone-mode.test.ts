import { afterAll, beforeAll, expect, inject, it } from 'vitest'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { upstashClientSuite } from '../helpers/client-suite.js'
import { findFreePortRange } from '../helpers/ports.js'
import { post, startTestProxy } from '../helpers/proxy.js'
import { type RedisProcess, startRedisServer } from '../helpers/redis-servers.js'

let redis: RedisProcess
let proxy: RunningProxy
beforeAll(async () => {
  redis = await startRedisServer(await findFreePortRange(1, false))
  proxy = await startTestProxy({ mode: 'standalone', redis: `redis://127.0.0.1:${redis.port}` })
})
afterAll(async () => {
  await proxy.close('1s')
  await redis.stop()
})

upstashClientSuite('standalone', () => ({ url: proxy.url, nodes: [{ host: '127.0.0.1', port: redis.port }] }))

it('a standalone Redis given to cluster mode: /readyz and a command say why, and what to use', {
  timeout: 20_000,
}, async () => {
  const wrong = await startTestProxy({ mode: 'cluster', redis: `redis://127.0.0.1:${redis.port}` })
  try {
    const ready = await fetch(`${wrong.url}/readyz`)
    expect(ready.status).toBe(503)
    expect((await ready.json()).error).toMatch(
      /cluster support disabled.*: this Redis is not a cluster node; for a standalone Redis use --mode standalone/,
    )
    const command = await post(wrong.url, '/', ['GET', 'a'])
    expect(command.status).toBe(503)
    expect(command.text).toMatch(/cluster support disabled.*use --mode standalone/)
  } finally {
    await wrong.close('1s')
  }
})

it('a cluster node given to standalone mode: /readyz says so, and what to use', async () => {
  const wrong = await startTestProxy({ mode: 'standalone', redis: inject('clusterUrl') })
  try {
    const ready = await fetch(`${wrong.url}/readyz`)
    expect(ready.status).toBe(503)
    expect((await ready.json()).error).toBe(
      'this Redis is a cluster node: standalone mode would answer MOVED for most keys; use --mode cluster',
    )
  } finally {
    await wrong.close('1s')
  }
  // The right mode for this server is ready.
  const ready = await fetch(`${proxy.url}/readyz`)
  expect(await ready.json()).toEqual({ status: 'ready', mode: 'standalone' })
})
