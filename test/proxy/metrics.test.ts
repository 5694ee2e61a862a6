import { describe, expect, it } from 'vitest'
import { ProxyMetrics } from '../../src/proxy/metrics.js'

describe('ProxyMetrics', () => {
  it('hands counts to prom-client when scraped, and again after more counting', async () => {
    const metrics = new ProxyMetrics()
    metrics.countCommand('get', 3)
    metrics.observeRequest('/', 200, 0.002)
    metrics.observeRequest('/', 200, 0.004)
    metrics.observeRequest('/', 401, 0.0001)
    let text = await metrics.registry.metrics()
    expect(text).toContain('tiercache_proxy_commands_total{command="get"} 3')
    expect(text).toContain('tiercache_proxy_requests_total{route="/",status="200"} 2')
    expect(text).toContain('tiercache_proxy_requests_total{route="/",status="401"} 1')
    expect(text).toContain('tiercache_proxy_request_duration_seconds_count{route="/"} 3')
    metrics.countCommand('get')
    text = await metrics.registry.metrics()
    expect(text).toContain('tiercache_proxy_commands_total{command="get"} 4')
    expect(text).toContain('tiercache_proxy_requests_total{route="/",status="200"} 2') // nothing new
  })

  it('counts every invented command name under one "unknown" label', async () => {
    const metrics = new ProxyMetrics()
    for (let i = 0; i < 1000; i++) metrics.countCommand(`made-up-${i}`)
    const text = await metrics.registry.metrics()
    expect(text).toContain('tiercache_proxy_commands_total{command="unknown"} 1000')
    expect(text).not.toContain('made-up')
    expect(metrics.commandLabels).toBe(1) // what a client invents does not grow the counters
  })
})
