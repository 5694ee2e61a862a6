/**
 * Prometheus metrics of one proxy, on a registry of its own (several proxies can live in one
 * process, as in the tests). Counters only; nothing here logs.
 */

import { exists } from '@ioredis/commands'
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

/** The metrics a proxy updates. */
export class ProxyMetrics {
  /** The registry `/metrics` renders. */
  readonly registry = new Registry()
  /** HTTP requests by route and status. */
  readonly requests = new Counter({
    name: 'tiercache_proxy_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  })
  /** Commands by name (unknown names are counted as `unknown`, so labels stay bounded). */
  readonly commands = new Counter({
    name: 'tiercache_proxy_commands_total',
    help: 'Redis commands received, by command',
    labelNames: ['command'] as const,
    registers: [this.registry],
  })
  /** Request latency by route. */
  readonly latency = new Histogram({
    name: 'tiercache_proxy_request_duration_seconds',
    help: 'Request latency by route',
    labelNames: ['route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  })
  /** Upstream failures: unreachable, deadline, cluster down. */
  readonly upstreamErrors = new Counter({
    name: 'tiercache_proxy_upstream_errors_total',
    help: 'Failures reaching Redis, by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  })
  /**
   * Redirections: MOVED/ASK followed on dedicated connections, plus slot-table refreshes of the
   * shared cluster client (ioredis follows MOVED/ASK internally and refreshes its table after).
   */
  readonly redirections = new Counter({
    name: 'tiercache_proxy_redirections_total',
    help: 'MOVED/ASK redirections followed and cluster slot-table refreshes',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  })
  /** Dedicated connections (blocking commands, subscriptions) in use. */
  readonly blockingInUse = new Gauge({
    name: 'tiercache_proxy_blocking_connections',
    help: 'Dedicated connections in use by blocking commands and subscriptions',
    registers: [this.registry],
  })

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'tiercache_proxy_' })
  }

  // Label children cached by their values: prom-client hashes the label object on every call,
  // which showed in the proxy's per-request profile.
  readonly #children = new Map<string, { inc(n?: number): void; observe?(v: number): void }>()

  #child<T extends { inc(n?: number): void }>(key: string, make: () => T): T {
    let child = this.#children.get(key)
    if (!child) {
      child = make()
      this.#children.set(key, child)
    }
    return child as unknown as T
  }

  /** Counts one command by its (bounded) name. */
  countCommand(name: string, times = 1): void {
    const label = exists(name) ? name : 'unknown'
    this.#child(`c:${label}`, () => this.commands.labels({ command: label })).inc(times)
  }

  /** Counts the first `count` commands described in `infos`: one counter update per run of one name. */
  countCommands(infos: ReadonlyArray<{ name: string }>, count: number): void {
    let i = 0
    while (i < count) {
      const name = infos[i]!.name
      let j = i + 1
      while (j < count && infos[j]!.name === name) j++
      this.countCommand(name, j - i)
      i = j
    }
  }

  /** Records one finished request. */
  observeRequest(route: string, status: number, seconds: number): void {
    this.#child(`r:${route}:${status}`, () => this.requests.labels({ route, status: String(status) })).inc()
    const histogram = this.#child(`l:${route}`, () => {
      const h = this.latency.labels({ route })
      return { inc: () => {}, observe: (v: number) => h.observe(v) }
    })
    histogram.observe!(seconds)
  }
}
