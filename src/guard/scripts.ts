/**
 * The guard's Lua scripts. Every key of one filter carries the filter's name as its hash tag
 * (`<prefix>guard:{name}:...`), so all of them live in one slot of a cluster; the generation
 * bitmaps (`...:g<N>`) are reached from the declared pointer keys' tag, in the same slot.
 * Bit positions are computed in the client (the hashing is the filter's), sent as numbers.
 */

/**
 * Each generation's sizing ("bits:hashes:expected") is kept in the `sizes` hash, set by the
 * generation's first add or by the rebuild that makes it. Instances configured with another
 * `expected` or `fpRate` use a generation in the sizing it was made with: hashed in their own, its
 * bits would read as absent ids (false negatives), and theirs as noise to the others.
 */

/** Redis's clock in ms, in a script (effects are replicated, so a replica never re-reads it). */
const NOW = `local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)`

/**
 * Add. KEYS: 1 current-generation pointer, 2 the rebuilds under way (a sorted set: generation →
 * deadline), 3 sizes. ARGV: 1 bitmap key prefix (`...:g`), then groups of (sizing, how many
 * positions, the positions in that sizing). Sets the bits in the current generation and in every
 * one being rebuilt (so an add during a rebuild, or during several at once, is not lost at a
 * switch), each in its own sizing. A current generation with no sizing yet takes the first group's.
 * A current generation whose bitmap is gone (evicted, or lost with tier 2's data) is left gone:
 * recreated by an add, it would hold that add's ids alone, and answer every other id absent.
 * → { 1, current, the sizings used... } when done; { 0, current, its sizing, the sizings missing... }
 * when a generation's sizing has no group (nothing set: send again with them).
 */
export const ADD = `
${NOW}
local current = redis.call('GET', KEYS[1]) or '0'
local generations = { current }
for _, g in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], now, '+inf')) do
  if g ~= current then generations[#generations + 1] = g end
end
local groups = {}
local i = 2
while i < #ARGV do
  local n = tonumber(ARGV[i + 1])
  groups[ARGV[i]] = { i + 2, i + 1 + n }
  i = i + 2 + n
end
local sizes, missing, used, lost = {}, {}, {}, {}
for _, g in ipairs(generations) do
  local size = redis.call('HGET', KEYS[3], g)
  if not size then
    size = ARGV[2]
    redis.call('HSET', KEYS[3], g, size)
  elseif g == current and redis.call('EXISTS', ARGV[1] .. g) == 0 then
    lost[g] = true
  end
  sizes[g] = size
  if not groups[size] then missing[#missing + 1] = size else used[#used + 1] = size end
end
if #missing > 0 then return { 0, current, sizes[current], unpack(missing) } end
for _, g in ipairs(generations) do
  local range = groups[sizes[g]]
  local ops = {}
  for j = range[1], range[2] do
    ops[#ops + 1] = 'SET'; ops[#ops + 1] = 'u1'; ops[#ops + 1] = ARGV[j]; ops[#ops + 1] = 1
  end
  if #ops > 0 and not lost[g] then redis.call('BITFIELD', ARGV[1] .. g, unpack(ops)) end
end
return { 1, current, unpack(used) }
`

/**
 * Load. KEYS: 1 current-generation pointer, 2 sizes. ARGV: 1 bitmap key prefix.
 * Reads the bitmap as unsigned 32-bit integers (JSON carries numbers, not binary), in batches.
 * → { generation, its sizing, word0, word1, ... }; { generation, '' } when it has no sizing
 * (nothing was ever added or rebuilt, or tier 2 lost every key); { generation, sizing, -1 } when
 * its bitmap is gone (evicted). Every generation with a sizing has a bitmap: the first add makes
 * it, a rebuild makes it at its start.
 */
export const LOAD = `
local current = redis.call('GET', KEYS[1]) or '0'
local size = redis.call('HGET', KEYS[2], current)
if not size then return { current, '' } end
if redis.call('EXISTS', ARGV[1] .. current) == 0 then return { current, size, -1 } end
local words = tonumber(string.match(size, '^(%d+)')) / 32
local out = { current, size }
local i = 0
while i < words do
  local ops = {}
  local j = 0
  while j < 1000 and i + j < words do
    ops[#ops + 1] = 'GET'; ops[#ops + 1] = 'u32'; ops[#ops + 1] = (i + j) * 32
    j = j + 1
  end
  local values = redis.call('BITFIELD_RO', ARGV[1] .. current, unpack(ops))
  for _, v in ipairs(values) do out[#out + 1] = v end
  i = i + j
end
return out
`

/**
 * Start a rebuild. KEYS: 1 generation counter, 2 the rebuilds under way, 3 sizes. ARGV: 1 bitmap
 * key prefix, 2 how long the rebuild may take (ms), 3 the new generation's sizing, 4 this
 * rebuild's own key (`...:begun:<random>`, in the same slot; it remembers its generation until the
 * deadline, so the script run again for the same rebuild, as `@upstash/redis` does after a lost
 * answer, answers the same generation instead of starting another). Rebuilds past their deadline
 * (their process died) are forgotten, their bitmaps deleted.
 * → the new generation's number
 */
export const BEGIN_REBUILD = `
local again = redis.call('GET', ARGV[4])
if again then return tonumber(again) end
${NOW}
for _, g in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - 1)) do
  redis.call('DEL', ARGV[1] .. g)
  redis.call('HDEL', KEYS[3], g)
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 1)
local generation = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), generation)
redis.call('HSET', KEYS[3], generation, ARGV[3])
-- Its bitmap exists from the start, all zeros (an empty rebuild is a filter, not a lost one).
redis.call('SETRANGE', ARGV[1] .. generation, tonumber(string.match(ARGV[3], '^(%d+)')) / 8 - 1, '\\0')
redis.call('SET', ARGV[4], generation, 'PX', ARGV[2])
return generation
`

/** Fill the generation being built. KEYS: 1 its bitmap. ARGV: bit positions. */
export const SET_BITS = `
local ops = {}
for i = 1, #ARGV do
  ops[#ops + 1] = 'SET'; ops[#ops + 1] = 'u1'; ops[#ops + 1] = ARGV[i]; ops[#ops + 1] = 1
end
if #ops > 0 then redis.call('BITFIELD', KEYS[1], unpack(ops)) end
return #ARGV
`

/**
 * Switch to a rebuilt generation, atomically: readers load either the old or the new bitmap,
 * never a half-built one. A rebuild that began after this one and has switched already holds
 * every id this one has (its source, and every add since it began): then this generation is
 * dropped instead, or its switch would lose what was added since that newer rebuild began.
 * KEYS: 1 current pointer, 2 the rebuilds under way, 3 sizes. ARGV: 1 bitmap key prefix, 2 the
 * rebuilt generation. The generation left is deleted, with its sizing. Run again once switched
 * (`@upstash/redis` sends a request again when its connection dies, after the script may have
 * run), it finds its own generation current and leaves it: it used to delete it as overtaken,
 * and every real id answered absent.
 * → { 1 if switched (now or by this same call before) else 0, the generation current before }
 */
export const SWITCH = `
redis.call('ZREM', KEYS[2], ARGV[2])
local old = redis.call('GET', KEYS[1]) or '0'
if old == ARGV[2] then return { 1, old } end
if tonumber(ARGV[2]) < tonumber(old) then
  redis.call('DEL', ARGV[1] .. ARGV[2])
  redis.call('HDEL', KEYS[3], ARGV[2])
  return { 0, old }
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('DEL', ARGV[1] .. old)
redis.call('HDEL', KEYS[3], old)
return { 1, old }
`

/**
 * Give up a rebuild (its source failed): it leaves the rebuilds under way, its bitmap and sizing
 * are deleted. KEYS: 1 the rebuilds under way, 2 sizes. ARGV: 1 bitmap key prefix, 2 its generation.
 */
export const ABANDON = `
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('DEL', ARGV[1] .. ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[2])
return 1
`
