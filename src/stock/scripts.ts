/**
 * The stock counter's scripts. KEYS: 1 the item's count, 2 its buyers (a hash user →
 * `<quantity>:<purchase id>`; a bare quantity in records made before purchase ids); both share the
 * item's hash tag (one slot). Each operation is one script: atomic.
 */

/** Sets the stock and forgets the buyers (a new sale). ARGV: 1 quantity. → 1 */
export const INIT = `
redis.call('SET', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return 1
`

/**
 * Puts an item on sale only if it is not on sale already (SET NX), forgetting buyers of an earlier
 * sale only then. ARGV: 1 quantity. → { 1, quantity } or { 0, left }
 */
export const INIT_IF_ABSENT = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('DEL', KEYS[2])
  return {1, tonumber(ARGV[1])}
end
return {0, tonumber(redis.call('GET', KEYS[1]))}
`

/**
 * One purchase: refused if this user bought already, or if fewer than n are left; else the count
 * goes down by n and the user is recorded with the purchase's id, atomically. The same purchase
 * run again (same user, n and id: a client retrying a request whose answer was lost) answers as it
 * did the first time, without taking again. ARGV: 1 user, 2 n, 3 purchase id.
 * → { 1, left } or { 0, reason, left } with reason 'already_bought', 'sold_out' or 'not_started'
 */
export const TAKE = `
local left = redis.call('GET', KEYS[1])
if not left then return {0, 'not_started', 0} end
left = tonumber(left)
local record = ARGV[2] .. ':' .. ARGV[3]
local had = redis.call('HGET', KEYS[2], ARGV[1])
if had == record then return {1, 'ok', left} end
if had then return {0, 'already_bought', left} end
local n = tonumber(ARGV[2])
if left < n then return {0, 'sold_out', left} end
left = redis.call('DECRBY', KEYS[1], n)
redis.call('HSET', KEYS[2], ARGV[1], record)
return {1, 'ok', left}
`

/** Undoes a user's purchase (payment failed): their quantity goes back. ARGV: 1 user. → { given, left } */
export const GIVE = `
local record = redis.call('HGET', KEYS[2], ARGV[1])
if not record then return {0, tonumber(redis.call('GET', KEYS[1]) or '0')} end
local n = tonumber(string.match(record, '^%d+'))
redis.call('HDEL', KEYS[2], ARGV[1])
return {n, redis.call('INCRBY', KEYS[1], n)}
`
