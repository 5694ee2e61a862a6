import { afterAll, beforeAll } from 'vitest'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { upstashClientSuite } from '../helpers/client-suite.js'
import { findFreePortRange } from '../helpers/ports.js'
import { startTestProxy } from '../helpers/proxy.js'
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
