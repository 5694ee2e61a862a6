/**
 * A Prometheus histogram with one label, counted in plain arrays and rendered by prom-client's
 * registry when `/metrics` is read (the registry asks each metric for `get()`).
 *
 * Why not prom-client's `Histogram`: its `observe` validates and hashes the label object on every
 * call, label children included, which measured 0.45 µs of the proxy's ~35 µs of CPU for one
 * single-command request. Here an observation is a bucket search and three additions, and the
 * exposition is the same lines prom-client writes for its own histograms.
 */
import type { Metric, Registry } from 'prom-client'

/** How to build a `LatencyHistogram`. */
export interface LatencyHistogramConfig {
  name: string
  help: string
  /** The one label, e.g. `route`. */
  labelName: string
  /** Upper bounds of the buckets, ascending (`+Inf` is added). */
  buckets: readonly number[]
  registers: Registry[]
}

interface Series {
  /** Observations per bucket (not cumulative), the last one past every bound. */
  counts: Float64Array
  sum: number
  count: number
}

/** A histogram by one label, cheap to observe (see the module comment). */
export class LatencyHistogram {
  readonly name: string
  readonly help: string
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly #labelName: string
  readonly #bounds: readonly number[]
  readonly #series = new Map<string, Series>()

  /** @throws {TypeError} when the buckets are empty or not ascending */
  constructor(config: LatencyHistogramConfig) {
    const { buckets } = config
    if (buckets.length === 0 || buckets.some((b, i) => i > 0 && b <= buckets[i - 1]!))
      throw new TypeError(`${config.name}: buckets must be ascending and not empty`)
    this.name = config.name
    this.help = config.help
    this.#labelName = config.labelName
    this.#bounds = [...buckets]
    for (const registry of config.registers) registry.registerMetric(this as unknown as Metric)
  }

  /** Records one observation under `label`. */
  observe(label: string, value: number): void {
    let series = this.#series.get(label)
    if (!series) {
      series = { counts: new Float64Array(this.#bounds.length + 1), sum: 0, count: 0 }
      this.#series.set(label, series)
    }
    const bounds = this.#bounds
    let i = 0
    while (i < bounds.length && value > bounds[i]!) i++
    series.counts[i]!++
    series.sum += value
    series.count++
  }

  /** Forgets every observation (prom-client's `registry.resetMetrics()`). */
  reset(): void {
    this.#series.clear()
  }

  /** The metric as prom-client's registry renders it: cumulative `_bucket` lines, `_sum`, `_count`. */
  async get() {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = []
    for (const [label, series] of this.#series) {
      let cumulative = 0
      this.#bounds.forEach((bound, i) => {
        cumulative += series.counts[i]!
        values.push({
          labels: { le: bound, [this.#labelName]: label },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        })
      })
      const at = { [this.#labelName]: label }
      values.push(
        { labels: { le: '+Inf', ...at }, value: series.count, metricName: `${this.name}_bucket` },
        { labels: at, value: series.sum, metricName: `${this.name}_sum` },
        { labels: at, value: series.count, metricName: `${this.name}_count` },
      )
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator }
  }
}
