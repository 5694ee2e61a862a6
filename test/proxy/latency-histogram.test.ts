import { Histogram, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { LatencyHistogram } from '../../src/proxy/latency-histogram.js'

const buckets = [0.001, 0.01, 0.1, 1]
const observations: Array<[string, number]> = [
  ['/', 0.0004],
  ['/', 0.001], // on a bound: counted in it (le means ≤)
  ['/', 0.05],
  ['/pipeline', 0.2],
  ['/', 7], // past every bound: +Inf only
  ['/pipeline', 0.0099],
]

describe('LatencyHistogram', () => {
  it('renders the same exposition as prom-client’s own Histogram', async () => {
    const ours = new Registry()
    const theirs = new Registry()
    const histogram = new LatencyHistogram({
      name: 'h_seconds',
      help: 'help',
      labelName: 'route',
      buckets,
      registers: [ours],
    })
    const reference = new Histogram({
      name: 'h_seconds',
      help: 'help',
      labelNames: ['route'],
      buckets,
      registers: [theirs],
    })
    for (const [route, value] of observations) {
      histogram.observe(route, value)
      reference.observe({ route }, value)
    }
    const text = await ours.metrics()
    expect(text).toBe(await theirs.metrics())
    expect(text).toContain('h_seconds_bucket{le="0.001",route="/"} 2')
    expect(text).toContain('h_seconds_bucket{le="1",route="/"} 3')
    expect(text).toContain('h_seconds_bucket{le="+Inf",route="/"} 4')
    expect(text).toContain('h_seconds_count{route="/pipeline"} 2')
    ours.resetMetrics()
    expect(await ours.metrics()).not.toContain('h_seconds_count')
  })

  it('refuses buckets that are empty or not ascending', () => {
    const make = (b: number[]) => () =>
      new LatencyHistogram({ name: 'x', help: 'x', labelName: 'route', buckets: b, registers: [] })
    expect(make([])).toThrowError(/buckets must be ascending/)
    expect(make([1, 1])).toThrowError(/buckets must be ascending/)
    expect(make([2, 1])).toThrowError(/buckets must be ascending/)
  })
})
