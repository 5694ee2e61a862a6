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

/**
 * Add. KEYS: 1 current-generation pointer, 2 building-generation marker, 3 sizes. ARGV: 1 bitmap
 * key prefix (`...:g`), 2 the sizing the positions are for, 3 a second sizing ('' for none), 4 how
 * many positions are for the first, then the positions for the first sizing, then for the second.
 * Sets the bits in the current generation and, while a rebuild runs, in the one being built too
 * (so an add during a rebuild is not lost at the switch), each in its own sizing.
 * → { 1, current } when done; { 0, current, its sizing, building or false, its sizing or false }
 * when a generation's sizing is not one the positions were sent for (nothing set: send again).
 */
export const ADD = `
local current = redis.call('GET', KEYS[1]) or '0'
local building = redis.call('GET', KEYS[2])
if building == current then building = false end
local currentSize = redis.call('HGET', KEYS[3], current)
if not currentSize then
  redis.call('HSET', KEYS[3], current, ARGV[2])
  currentSize = ARGV[2]
end
local buildingSize = building and redis.call('HGET', KEYS[3], building)
local count = tonumber(ARGV[4])
local function range(size)
  if size == ARGV[2] then return 5, 4 + count end
  if size == ARGV[3] then return 5 + count, #ARGV end
  return nil
end
local cFrom, cTo = range(currentSize)
local bFrom, bTo
if buildingSize then bFrom, bTo = range(buildingSize) end
if not cFrom or (buildingSize and not bFrom) then
  return { 0, current, currentSize, building, buildingSize }
end
local function set(key, from, to)
  local ops = {}
  for i = from, to do
    ops[#ops + 1] = 'SET'; ops[#ops + 1] = 'u1'; ops[#ops + 1] = ARGV[i]; ops[#ops + 1] = 1
  end
  if #ops > 0 then redis.call('BITFIELD', key, unpack(ops)) end
end
set(ARGV[1] .. current, cFrom, cTo)
if buildingSize then set(ARGV[1] .. building, bFrom, bTo) end
return { 1, current }
`

/**
 * Load. KEYS: 1 current-generation pointer, 2 sizes. ARGV: 1 bitmap key prefix, 2 the number of
 * 32-bit words of the caller's sizing (read when the generation has no sizing yet: nothing added).
 * Reads the bitmap as unsigned 32-bit integers (JSON carries numbers, not binary), in batches.
 * → { generation, its sizing or '', word0, word1, ... }
 */
export const LOAD = `
local current = redis.call('GET', KEYS[1]) or '0'
local size = redis.call('HGET', KEYS[2], current)
local words = tonumber(ARGV[2])
if size then words = tonumber(string.match(size, '^(%d+)')) / 32 end
local out = { current, size or '' }
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
 * Start a rebuild. KEYS: 1 generation counter, 2 building marker, 3 sizes. ARGV: 1 marker ttl ms,
 * 2 the new generation's sizing. → the new generation's number
 */
export const BEGIN_REBUILD = `
local generation = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], generation, 'PX', ARGV[1])
redis.call('HSET', KEYS[3], generation, ARGV[2])
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
 * Switch to the rebuilt generation, atomically: readers load either the old or the new bitmap,
 * never a half-built one. KEYS: 1 current pointer, 2 building marker, 3 sizes. ARGV: 1 bitmap key
 * prefix, 2 the new generation. The old bitmap and its sizing are deleted. → the old generation
 */
export const SWITCH = `
local old = redis.call('GET', KEYS[1]) or '0'
redis.call('SET', KEYS[1], ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
if old ~= ARGV[2] then
  redis.call('DEL', ARGV[1] .. old)
  redis.call('HDEL', KEYS[3], old)
end
return old
`
