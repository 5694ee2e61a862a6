/**
 * Starts a real proxy (HTTP on a free loopback port) in front of a real Redis, and gives the
 * real `@upstash/redis` client for it.
 */
import { Redis as UpstashRedis } from '@upstash/redis'
import { type ProxyOptions, type RunningProxy, startProxy } from '../../src/proxy/proxy.js'

/** Tokens every test proxy accepts. */
export const TOKENS = {
  standard: 'test-standard-token',
  readonly: 'test-readonly-token',
  admin: 'test-admin-token',
  prefixed: 'test-prefixed-token',
} as const

/** Starts a proxy with the test tokens; the caller closes it. */
export function startTestProxy(
  options: Partial<Parameters<typeof startProxy>[0]> & Pick<ProxyOptions, 'redis'>,
): Promise<RunningProxy> {
  return startProxy({
    port: 0,
    logger: 'silent',
    tokens: [
      { token: TOKENS.standard },
      { token: TOKENS.readonly, kind: 'readonly' },
      { token: TOKENS.admin, kind: 'admin' },
      { token: TOKENS.prefixed, prefix: 'tenant-a:' },
    ],
    ...options,
  })
}

/** The real Upstash client for a proxy URL (no retries: a failing request should fail the test). */
export function upstashClient(
  url: string,
  token: string = TOKENS.standard,
  autoPipeline = false,
): UpstashRedis {
  return new UpstashRedis({ url, token, enableAutoPipelining: autoPipeline, retry: false })
}

/** A raw request to the proxy, for status codes and bodies the client hides. */
export async function post(url: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKENS.standard}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await response.text()
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) as unknown }
}
