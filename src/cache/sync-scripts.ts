/**
 * The tier-2 scripts of cross-instance L1 coherence: a capped Redis Stream of invalidations that
 * every instance reads from its own cursor, and a hash of tag versions. KEYS: 1 the stream, 2 the
 * versions hash, 3 the trim watermark; all three share one hash tag (one slot, see `syncKeys`).
 *
 * Why the stream is trimmed here rather than with `XADD ... MAXLEN ~`: a reader must know when
 * entries after its cursor were trimmed away (it then clears its L1). Redis does not say which ids
 * an approximate trim dropped; trimming in the script, it records the last id it removed (the
 * watermark), and a cursor below the watermark has provably missed entries.
 */

/**
 * Appends one invalidation. ARGV: 1 the stream's length bound, 2 the keys (a JSON array), 3 the
 * tags whose versions are bumped (a JSON array, may be empty), 4 the caller's clock in ms. Trims by
 * a tenth of the bound at a time (amortized: one entry per append), so the stream holds between
 * bound and 1.1 × bound.
 * → { the entry's id, the new version of each tag, in order }
 *
 * A new version is at least the caller's clock, not just the old one + 1: instances remember
 * versions (and write them into entries), and a hash tier 2 lost (a failover that dropped the
 * last bumps, a restart without persistence) would otherwise count again from versions they
 * already hold, so the next invalidations would not reach entries written under those. The
 * caller's clock, not Redis's `TIME`: a script stays a function of its keys and arguments (Upstash
 * asks for that), and an entry's freshness already rests on the instances' clocks.
 */
export const NOTIFY = `
local tags = cjson.decode(ARGV[3])
local versions, bumped = {}, {}
local now = tonumber(ARGV[4])
for i, tag in ipairs(tags) do
  local v = redis.call('HINCRBY', KEYS[2], tag, 1)
  if v < now then v = now redis.call('HSET', KEYS[2], tag, v) end
  versions[i] = v
  bumped[tag] = v
end
local id = redis.call('XADD', KEYS[1], '*', 'k', ARGV[2], 't', cjson.encode(bumped))
local bound = tonumber(ARGV[1])
local excess = redis.call('XLEN', KEYS[1]) - bound
if excess >= math.max(1, math.floor(bound / 10)) then
  local gone = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', excess)
  redis.call('SET', KEYS[3], gone[#gone][1])
  redis.call('XTRIM', KEYS[1], 'MAXLEN', bound)
end
return {id, versions}
`

/**
 * Reads invalidations after a cursor. ARGV: 1 the cursor ('' for a new instance: it starts at the
 * stream's end), 2 the most entries to return.
 * → { the new cursor, 1 when entries after the cursor were trimmed (or the stream vanished) else 0,
 *     the entries [[id, [field, value, ...]], ...] }
 */
export const READ_INVALIDATIONS = `
local function less(a, b)
  local am, as = a:match('(%d+)-(%d+)')
  local bm, bs = b:match('(%d+)-(%d+)')
  return am + 0 < bm + 0 or am == bm and as + 0 < bs + 0
end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local watermark = redis.call('GET', KEYS[3]) or '0-0'
local tail = last[1] and last[1][1] or watermark
local cursor = ARGV[1]
if cursor == '' then return {tail, 0, {}} end
if less(cursor, watermark) or (#last == 0 and cursor ~= watermark and cursor ~= '0-0') then
  return {tail, 1, {}}
end
local entries = redis.call('XRANGE', KEYS[1], '(' .. cursor, '+', 'COUNT', ARGV[2])
return {#entries > 0 and entries[#entries][1] or cursor, 0, entries}
`

/**
 * Reads tag versions. KEYS: 1 the versions hash. ARGV: the tags.
 * → their versions (0 for a tag never invalidated), in order
 */
export const TAG_VERSIONS = `
local out = {}
for i, tag in ipairs(ARGV) do out[i] = tonumber(redis.call('HGET', KEYS[1], tag) or '0') end
return out
`

/** The keys of one cache's coherence state, sharing a hash tag so they live in one slot. */
export interface SyncKeys {
  stream: string
  versions: string
  watermark: string
}

/** The coherence keys of the cache whose keys start with `prefix` (and so do they: a proxy token limited to that prefix reaches them). */
export function syncKeys(prefix: string): SyncKeys {
  const tag = `${prefix}{${prefix}tiercache-sync}`
  return { stream: `${tag}:stream`, versions: `${tag}:versions`, watermark: `${tag}:trimmed` }
}
