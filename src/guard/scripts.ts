/**
 * The guard's Lua scripts. Every key of one filter carries the filter's name as its hash tag
 * (`<prefix>guard:{name}:...`), so all of them live in one slot of a cluster; the generation
 * bitmaps (`...:g<N>`) are reached from the declared pointer keys' tag, in the same slot.
 * Bit positions are computed in the client (the hashing is the filter's), sent as numbers.
 */

/**
 * Add. KEYS: 1 current-generation pointer, 2 building-generation marker. ARGV: 1 bitmap key prefix
 * (`...:g`), 2.. bit positions. Sets the bits in the current generation and, while a rebuild runs,
 * in the one being built too (so an add during a rebuild is not lost at the switch).
 * → the current generation
 */
export const ADD = `
local current = redis.call('GET', KEYS[1]) or '0'
local building = redis.call('GET', KEYS[2])
local ops = {}
for i = 2, #ARGV do
  ops[#ops + 1] = 'SET'; ops[#ops + 1] = 'u1'; ops[#ops + 1] = ARGV[i]; ops[#ops + 1] = 1
end
if #ops > 0 then
  redis.call('BITFIELD', ARGV[1] .. current, unpack(ops))
  if building and building ~= current then redis.call('BITFIELD', ARGV[1] .. building, unpack(ops)) end
end
return current
`

/**
 * Load. KEYS: 1 current-generation pointer. ARGV: 1 bitmap key prefix, 2 number of 32-bit words.
 * Reads the bitmap as unsigned 32-bit integers (JSON carries numbers, not binary), in batches.
 * → { generation, word0, word1, ... }
 */
export const LOAD = `
local current = redis.call('GET', KEYS[1]) or '0'
local words = tonumber(ARGV[2])
local out = { current }
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
 * Start a rebuild. KEYS: 1 generation counter, 2 building marker. ARGV: 1 marker ttl ms.
 * → the new generation's number
 */
export const BEGIN_REBUILD = `
local generation = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], generation, 'PX', ARGV[1])
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
 * never a half-built one. KEYS: 1 current pointer, 2 building marker. ARGV: 1 bitmap key prefix,
 * 2 the new generation. The old bitmap is deleted. → the old generation
 */
export const SWITCH = `
local old = redis.call('GET', KEYS[1]) or '0'
redis.call('SET', KEYS[1], ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
if old ~= ARGV[2] then redis.call('DEL', ARGV[1] .. old) end
return old
`
