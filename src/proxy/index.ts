/**
 * `tiercache/proxy`: the Upstash-REST-compatible HTTP proxy in front of Redis Cluster,
 * standalone or Sentinel Redis.
 */
export { createProxy, startProxy, type Proxy, type ProxyOptions, type RunningProxy } from './proxy.js'
export { createProxyApp, type ProxyApp, type ProxyAppOptions } from './app.js'
export { TokenStore, type TokenKind, type TokenSpec } from './tokens.js'
export { connectUpstream, parseRedisUrl, type ProxyMode, type Upstream, type UpstreamOptions } from './upstream.js'
export { describeCommand, type CommandArgs, type CommandInfo } from './command-table.js'
export { ProxyHttpError } from './http-error.js'
export { ProxyMetrics } from './metrics.js'
