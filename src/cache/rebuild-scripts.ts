/**
 * The tier-2 scripts of cross-instance single flight. KEYS: 1 the entry, 2 its rebuild lock, which
 * shares the entry's hash tag (same slot in a cluster; see `rebuildLockKey`). Entries are
 * `tc1:` + JSON; `f` is fresh-until (ms), `c` the fence number.
 */

/** Lua: the entry's current fence (0 when absent or unreadable) into `fence`, its text into `current`. */
const ENTRY_FENCE = `local current = redis.call('GET', KEYS[1])
local fence = 0
if current then
  local ok, env = pcall(cjson.decode, string.sub(current, 5))
  if ok and type(env) == 'table' then fence = tonumber(env.c) or 0 end
end`

/**
 * Read, and lock on a miss, in one round trip. ARGV: 1 token, 2 lock ttl ms, 3 now ms, 4 (optional)
 * the current versions of tags, as a JSON object. When the entry is absent, past its fresh time
 * or written under an older tag version, tries `SET lock token NX PX ttl`. The caller holds the
 * lock when it holds its token: taken now, or by this same call run before (tokens are one per
 * call, and `@upstash/redis` sends a request again when its connection dies, after the script may
 * have run: a second run that answered "held by another" left the caller waiting on itself).
 * → { text or false, 1 if this caller holds the lock else 0, the entry's fence (0 when absent) }
 */
export const READ_OR_LOCK = `
local text = redis.call('GET', KEYS[1])
local fresh, fence = false, 0
if text then
  local ok, env = pcall(cjson.decode, string.sub(text, 5))
  if ok and type(env) == 'table' then
    fresh = (tonumber(env.f) or 0) > tonumber(ARGV[3])
    fence = tonumber(env.c) or 0
    if fresh and ARGV[4] and type(env.t) == 'table' then
      local need = cjson.decode(ARGV[4])
      for tag, v in pairs(env.t) do
        if need[tag] and (tonumber(v) or 0) < need[tag] then fresh = false end
      end
    end
  end
end
if not fresh then redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) end
return {text or false, redis.call('GET', KEYS[2]) == ARGV[1] and 1 or 0, fence}
`

/**
 * Fenced fill that also releases the lock. ARGV: 1 text, 2 ttl ms (0: no expiry, for hot keys),
 * 3 the fence read at miss time, 4 the lock token. The write happens only if the entry's fence is still the one read (a writer
 * that invalidated the key in between bumped it), so a slow reader cannot put an old value back.
 * → 1 written, 0 refused (fence moved)
 */
export const FILL = `
if redis.call('GET', KEYS[2]) == ARGV[4] then redis.call('DEL', KEYS[2]) end
${ENTRY_FENCE}
if fence ~= tonumber(ARGV[3]) then return 0 end
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
return 1
`

/** Releases a rebuild lock held with a token (a failed load). ARGV: 1 token. → 1 released, 0 not ours. */
export const UNLOCK = `
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) return 1 end
return 0
`

/**
 * Tombstone (delete-after-write). KEYS: 1 the entry. ARGV: 1 ttl ms. Replaces the entry by a
 * tombstone whose fence is one more than the entry's: long past its fresh time (f = 0), so the
 * next reader rebuilds, and a fill that read the old fence is refused (the lease idea of memcache
 * at Facebook, NSDI 2013). → the new fence
 */
export const TOMBSTONE = `
${ENTRY_FENCE}
fence = fence + 1
redis.call('SET', KEYS[1], 'tc1:{"n":1,"f":0,"d":0,"c":' .. fence .. '}', 'PX', ARGV[1])
return fence
`

/**
 * Put (an explicit write, `cache.set`). KEYS: 1 the entry. ARGV: 1 the entry's text, which starts
 * `tc1:{"c":<n>,` (the fence first, so it can be replaced without re-encoding the value), 2 ttl ms
 * (0: no expiry). Writes it with the fence bumped past the current entry's: a fill that read an
 * older fence is refused. → the new fence
 */
export const PUT = `
${ENTRY_FENCE}
fence = fence + 1
local text = string.gsub(ARGV[1], '^tc1:{"c":%-?%d+,', 'tc1:{"c":' .. fence .. ',', 1)
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], text, 'PX', ARGV[2])
else
  redis.call('SET', KEYS[1], text)
end
return fence
`

/**
 * Keep a rebuild lock for ARGV[2] ms from now, if still held with token ARGV[1] (a failed refresh
 * holds it as a fleet-wide backoff). → 1 held, 0 not ours.
 */
export const HOLD = `
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('PEXPIRE', KEYS[2], ARGV[2]) return 1 end
return 0
`

/**
 * The rebuild lock's key, in the entry's slot and starting as the entry key does (so a proxy token
 * limited to a key prefix reaches it). Redis hashes only a key's `{tag}` when it has one, else the
 * whole key: a key with a tag keeps it (`<key>:rebuild`); a key without one is wrapped in braces
 * after its leading brace-free part (`<part>{<key>}:rebuild`). A key hashed whole whose text holds
 * a `}` (`list:{}`) cannot be wrapped so: in a cluster, Redis refuses its scripts (CROSSSLOT), and
 * the cache counts that as a refusal, serving it from L1 and the loader.
 */
export function rebuildLockKey(key: string): string {
  return hashTagOf(key) === key ? `${key.split('{')[0]}{${key}}:rebuild` : `${key}:rebuild`
}

/** What Redis Cluster hashes for a key: the text inside its first non-empty `{...}`, else the key. */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{')
  if (open === -1) return key
  const close = key.indexOf('}', open + 1)
  if (close === -1 || close === open + 1) return key
  return key.slice(open + 1, close)
}
