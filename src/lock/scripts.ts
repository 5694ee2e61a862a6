/**
 * The lock's Lua scripts. Every key of one lock carries the lock's name as its hash tag, so a
 * script's keys live in one slot of a cluster. KEYS: 1 the lock (its value is the holder's token,
 * `<owner>|<random>`), 2 the fence counter (never expires: fencing tokens only grow), 3 the
 * reentrancy count (expires with the lock).
 */

/**
 * Acquire. ARGV: 1 token, 2 the owner prefix (`<owner>|`), 3 ttl ms.
 * Free: `SET lock token NX PX ttl`, a new fencing token, count 1 → {1, fence, token, 1}.
 * Held by the same owner: count + 1 and a renewed ttl (reentrancy) → {1, fence, token, count}.
 * Held by another: → {0, ms left}.
 */
export const ACQUIRE = `
local current = redis.call('GET', KEYS[1])
if not current then
  redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[3])
  local fence = redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[3], 1, 'PX', ARGV[3])
  return {1, fence, ARGV[1], 1}
end
if string.sub(current, 1, string.len(ARGV[2])) == ARGV[2] then
  local count = redis.call('INCR', KEYS[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  redis.call('PEXPIRE', KEYS[3], ARGV[3])
  return {1, tonumber(redis.call('GET', KEYS[2]) or '0'), current, count}
end
return {0, redis.call('PTTL', KEYS[1])}
`

/**
 * Release. ARGV: 1 token. Only the holder's token releases (a former holder whose lock expired
 * and was taken by someone else deletes nothing). Reentrant holds count down first.
 * → -1 not held with this token, 0 released, n > 0 still held n times.
 */
export const RELEASE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local count = redis.call('DECR', KEYS[2])
if count <= 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 0
end
return count
`

/** Extend. ARGV: 1 token, 2 ttl ms. Only the holder's token extends. → 1 extended, 0 not held. */
export const EXTEND = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
`
