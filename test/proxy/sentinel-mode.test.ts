import { Redis } from 'ioredis'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { upstashClientSuite } from '../helpers/client-suite.js'
import { findFreePortRange } from '../helpers/ports.js'
import { startTestProxy } from '../helpers/proxy.js'
import { type RedisProcess, startRedisServer } from '../helpers/redis-servers.js'

// A master, a replica and three sentinels, as a small production Sentinel deployment.
const servers: RedisProcess[] = []
let proxy: RunningProxy
let masterPort = 0
beforeAll(async () => {
  const base = await findFreePortRange(5, false)
  masterPort = base
  servers.push(await startRedisServer(base))
  servers.push(await startRedisServer(base + 1, [`replicaof 127.0.0.1 ${base}`]))
  for (let i = 2; i < 5; i++) {
    servers.push(
      await startRedisServer(
        base + i,
        [
          `sentinel monitor tiercache 127.0.0.1 ${base} 2`,
          'sentinel down-after-milliseconds tiercache 2000',
          'sentinel failover-timeout tiercache 10000',
        ],
        true,
      ),
    )
  }
  proxy = await startTestProxy({
    mode: 'sentinel',
    sentinels: [2, 3, 4].map((i) => `127.0.0.1:${base + i}`),
    masterName: 'tiercache',
  })
})
afterAll(async () => {
  await proxy?.close('1s')
  await Promise.all(servers.map((s) => s.stop()))
})

it('the proxy reaches the master the sentinels name', async () => {
  const sentinel = new Redis({ port: servers[2]!.port, protocol: 2 })
  const [, port] = (await sentinel.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'tiercache')) as [
    string,
    string,
  ]
  sentinel.disconnect()
  expect(Number(port)).toBe(masterPort)
  const response = await fetch(`${proxy.url}/readyz`)
  expect(await response.json()).toEqual({ status: 'ready', mode: 'sentinel' })
})

upstashClientSuite('sentinel', () => ({ url: proxy.url, nodes: [{ host: '127.0.0.1', port: masterPort }] }))
