/**
 * The stock counter's scripts. KEYS: 1 the item's count, 2 its buyers (a hash user →
 * `<quantity>:<purchase id>`, `given:<give call id>:<quantity>:<purchase id>` once given back; a bare
 * quantity in records made before purchase ids), 3 the id of the call that last put it on sale; all
 * share the item's hash tag (one slot). Each operation is one script: atomic. Each call carries an
 * id of its own, so a script run again by a client retrying a request whose answer was lost answers
 * as its first run did, and changes nothing more.
 */

/**
 * Sets the stock and forgets the buyers (a new sale). Run again by the same call, it does nothing:
 * the purchases made in between stand. ARGV: 1 quantity, 2 call id. → 1
 */
export const INIT = `
if redis.call('GET', KEYS[3]) == ARGV[2] then return 1 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[3], ARGV[2])
return 1
`

/**
 * Puts an item on sale only if it is not on sale already (SET NX), forgetting buyers of an earlier
 * sale only then. Run again by the call that put it on sale, it answers so again.
 * ARGV: 1 quantity, 2 call id. → { 1, quantity } or { 0, left }
 */
export const INIT_IF_ABSENT = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('DEL', KEYS[2])
  redis.call('SET', KEYS[3], ARGV[2])
  return {1, tonumber(ARGV[1])}
end
if redis.call('GET', KEYS[3]) == ARGV[2] then return {1, tonumber(ARGV[1])} end
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
if had and string.sub(had, 1, 6) ~= 'given:' then return {0, 'already_bought', left} end
local n = tonumber(ARGV[2])
if left < n then return {0, 'sold_out', left} end
left = redis.call('DECRBY', KEYS[1], n)
redis.call('HSET', KEYS[2], ARGV[1], record)
return {1, 'ok', left}
`

/**
 * Undoes a user's purchase (payment failed): their quantity goes back, and the record says it was
 * given back, by which call. Run again by that call, it answers as it did; another call finds
 * nothing to give. With a purchase id, only that purchase is given back (not a later one).
 * ARGV: 1 user, 2 call id, 3 purchase id or ''. → { given, left }
 */
export const GIVE = `
local left = tonumber(redis.call('GET', KEYS[1]) or '0')
local record = redis.call('HGET', KEYS[2], ARGV[1])
if not record then return {0, left} end
local call, given = string.match(record, '^given:([^:]*):(%d+):')
if call then return {call == ARGV[2] and tonumber(given) or 0, left} end
local n = string.match(record, '^%d+')
local purchase = string.match(record, '^%d+:(.*)$') or ''
if ARGV[3] ~= '' and purchase ~= ARGV[3] then return {0, left} end
redis.call('HSET', KEYS[2], ARGV[1], 'given:' .. ARGV[2] .. ':' .. n .. ':' .. purchase)
return {tonumber(n), redis.call('INCRBY', KEYS[1], tonumber(n))}
`
