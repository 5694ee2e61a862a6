/**
 * The lock's Lua scripts. Every key of one lock carries the lock's name as its hash tag, so a
 * script's keys live in one slot of a cluster. KEYS: 1 the lock (its value is the first holder's
 * token, `<owner>|<random>`), 2 the fence counter (never expires: fencing tokens only grow), 3 the
 * holds (a set of the tokens of this owner's acquisitions, for reentrancy; expires with the lock).
 *
 * A fence is at least the acquiring caller's clock in ms, not just the last one + 1: with
 * asynchronous replication a failover can lose the last acquisitions, the lock and its fence bump
 * together, and a counter would then hand the next holder a fence the lost holder (who still
 * thinks it holds the lock) already carries, just when the fence must tell them apart. The
 * caller's clock rather than Redis's `TIME`: a script stays a function of its keys and arguments
 * (Upstash asks for that). A fence is a safe integer (about 1.8e12 in 2026): stores must keep it
 * in 64 bits.
 *
 * Every script may run twice for one call: `@upstash/redis` sends a request again when its
 * connection dies, after the script may have run. Holds are a set, not a count, so an acquire or
 * a release run twice holds or releases once.
 */

/**
 * Acquire. ARGV: 1 this acquisition's token, 2 the owner prefix (`<owner>|`), 3 ttl ms, 4 the
 * caller's clock (ms, an integer).
 * Free: `SET lock token NX PX ttl`, a new fencing token, this hold → {1, fence, token, 1}.
 * Held by the same owner: this hold added and the ttl renewed (reentrancy; the same acquisition
 * run again adds nothing) → {1, fence, the lock's token, holds}.
 * Held by another: → {0, ms left}.
 */
export const ACQUIRE = `
local current = redis.call('GET', KEYS[1])
if not current then
  redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[3])
  local fence = redis.call('INCR', KEYS[2])
  if fence < tonumber(ARGV[4]) then
    fence = tonumber(ARGV[4])
    redis.call('SET', KEYS[2], ARGV[4])
  end
  redis.call('DEL', KEYS[3])
  redis.call('SADD', KEYS[3], ARGV[1])
  redis.call('PEXPIRE', KEYS[3], ARGV[3])
  return {1, fence, ARGV[1], 1}
end
if string.sub(current, 1, string.len(ARGV[2])) == ARGV[2] then
  redis.call('SADD', KEYS[3], ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  redis.call('PEXPIRE', KEYS[3], ARGV[3])
  return {1, tonumber(redis.call('GET', KEYS[2]) or '0'), current, redis.call('SCARD', KEYS[3])}
end
return {0, redis.call('PTTL', KEYS[1])}
`

/**
 * Release one hold. KEYS: 1 the lock, 2 the holds. ARGV: 1 the lock's token, 2 this hold's token.
 * Only the lock's token releases (a former holder whose lock expired and was taken by someone else
 * deletes nothing); the lock goes when its last hold does.
 * → -1 not held with this token, 0 released, n > 0 still held n times.
 */
export const RELEASE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('SREM', KEYS[2], ARGV[2])
local holds = redis.call('SCARD', KEYS[2])
if holds == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 0
end
return holds
`

/** Extend. KEYS: 1 the lock, 2 the holds. ARGV: 1 token, 2 ttl ms. Only the holder's token extends. → 1 extended, 0 not held. */
export const EXTEND = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
`
