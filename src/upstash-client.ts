/**
 * The `@upstash/redis` client behind a `redis` option (the cache's tier 2, the lock, the queue,
 * the stock counter): the client given, or one built from `{ url, token }` once both are checked.
 * `@upstash/redis` itself only warns on the console when the token is missing (every request then
 * fails with 401), and names a bad URL in its own words, without the option's name.
 */
import { Redis } from '@upstash/redis'
import { InvalidOptionError } from './errors.js'
import { describeValue } from './option-names.js'

/** Where Redis is: an `@upstash/redis` client, or the REST URL and token of Upstash or the tiercache proxy. */
export type RedisConnection = Redis | { url: string | URL; token: string }

/** Settings for a client built here (a client the caller built keeps its own). */
type BuiltClientSettings = { retry?: false }

/**
 * The client for a `redis` option.
 * @param option the option's name in errors (`redis`: then `redis.url`, `redis.token`)
 * @throws {InvalidOptionError} for anything but a client or `{ url, token }` with an http(s) URL and a token
 */
export function upstashClient(
  connection: unknown,
  option = 'redis',
  settings: BuiltClientSettings = {},
): Redis {
  if (isClient(connection)) return connection
  if (
    typeof connection !== 'object' ||
    connection === null ||
    !('url' in connection || 'token' in connection)
  )
    throw new InvalidOptionError(
      option,
      `must be an @upstash/redis client or { url, token }, got ${describeValue(connection)}`,
    )
  const { token } = connection as { url?: unknown; token?: unknown }
  const given = (connection as { url?: unknown }).url
  // A URL object is taken as its text: @upstash/redis wants a string.
  const url = given instanceof URL ? given.href : given
  if (typeof url !== 'string' || !isHttpUrl(url))
    throw new InvalidOptionError(`${option}.url`, `must be an http(s) REST URL, got ${describeValue(url)}`)
  if (typeof token !== 'string' || token === '')
    throw new InvalidOptionError(`${option}.token`, `must be a non-empty string, got ${describeValue(token)}`)
  return new Redis({ url, token, automaticDeserialization: false, ...settings })
}

/**
 * A client of this package's copy of `@upstash/redis`, or of another copy (two versions installed
 * side by side, where `instanceof` fails): anything with its script and pipeline methods.
 */
function isClient(value: unknown): value is Redis {
  if (value instanceof Redis) return true
  const v = value as { createScript?: unknown; pipeline?: unknown } | null
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.createScript === 'function' &&
    typeof v.pipeline === 'function'
  )
}

function isHttpUrl(value: string): boolean {
  try {
    const { protocol } = new URL(value)
    return protocol === 'http:' || protocol === 'https:'
  } catch {
    return false
  }
}
