/**
 * `tiercache/proxy`: the Upstash-REST-compatible HTTP proxy in front of Redis Cluster,
 * standalone or Sentinel Redis.
 */

export { createProxyApp, type ProxyApp, type ProxyAppOptions } from './app.js'
export { type CommandArgs, type CommandInfo, describeCommand } from './command-table.js'
export { ProxyHttpError } from './http-error.js'
export { ProxyMetrics } from './metrics.js'
export { createProxy, type Proxy, type ProxyOptions, type RunningProxy, startProxy } from './proxy.js'
export { type TokenKind, type TokenSpec, TokenStore } from './tokens.js'
export {
  connectUpstream,
  type ProxyMode,
  parseRedisUrl,
  type Upstream,
  type UpstreamOptions,
} from './upstream.js'
