import { afterAll, beforeAll, inject } from 'vitest'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { upstashClientSuite } from '../helpers/client-suite.js'
import { startTestProxy } from '../helpers/proxy.js'

let proxy: RunningProxy
beforeAll(async () => {
  proxy = await startTestProxy({ mode: 'cluster', redis: inject('clusterUrl') })
})
afterAll(() => proxy.close('1s'))

upstashClientSuite('cluster', () => ({
  url: proxy.url,
  nodes: inject('clusterPorts').map((port) => ({ host: '127.0.0.1', port })),
}))
