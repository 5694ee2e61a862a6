import { Redis } from 'ioredis'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { upstashClientSuite } from '../helpers/client-suite.js'
import { findFreePortRange } from '../helpers/ports.js'
import { startTestProxy } from '../helpers/proxy.js'
import { type SentinelDeployment, startSentinelDeployment } from '../helpers/redis-servers.js'

// A master, a replica and three sentinels, as a small production Sentinel deployment.
let deployment: SentinelDeployment
let proxy: RunningProxy
let masterPort = 0
beforeAll(async () => {
  deployment = await startSentinelDeployment(await findFreePortRange(5, false))
  masterPort = deployment.dataPorts[0]
  proxy = await startTestProxy({
    mode: 'sentinel',
    sentinels: deployment.sentinels,
    masterName: deployment.masterName,
  })
}, 60_000)
afterAll(async () => {
  await proxy?.close('1s')
  await deployment?.stop()
})

it('the proxy reaches the master the sentinels name', async () => {
  const sentinel = new Redis({ port: deployment.servers[2]!.port, protocol: 2 })
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
