/**
 * The work queue's scripts. KEYS: 1 the stream, 2 its dead-letter stream (for ADD, the call's
 * record); all share the queue's hash tag (one slot in a cluster). A message is one stream entry with a field `p` holding the
 * payload as JSON.
 */

/**
 * Appends messages, then, past the length bound, trims what every group has acknowledged.
 * KEYS: 1 the stream, 2 this call's record (its ids, kept for ARGV 2 ms). ARGV: 1 the approximate
 * length bound ('' for none), 2 how long the record is kept (ms), 3.. the payloads (JSON).
 * → their ids, in order
 *
 * The record makes the call safe to run twice: `@upstash/redis` sends a request again when its
 * connection dies, after the script may have run, and a second run appended the messages again
 * under new ids (a handler idempotent by message id then ran each twice). Run again while its
 * record lives, the script answers the first run's ids and appends nothing.
 *
 * Not `XADD MAXLEN ~`: that trims the oldest entries whether or not a group has them, so with
 * consumers behind (or down) adding silently deleted work nobody had handled; a trimmed pending
 * message vanished from its consumer's list, and the group's lag still counted the trimmed ones.
 * Here the trim stops at the oldest id a group still needs: its oldest pending message, or the
 * first after the last one delivered to it. `XTRIM MINID ~ <that id> LIMIT <excess>` removes at
 * most what exceeds the bound (whole macro nodes, as `MAXLEN ~` does) and never past it (Redis 8.2's
 * `ACKED` trimming does the same; Redis 7 has none). With no group there is nobody to keep
 * anything for: `MAXLEN ~`, as before.
 */
export const ADD = `
local done = redis.call('GET', KEYS[2])
if done then return cjson.decode(done) end
local ids = {}
for i = 3, #ARGV do ids[#ids + 1] = redis.call('XADD', KEYS[1], '*', 'p', ARGV[i]) end
redis.call('SET', KEYS[2], cjson.encode(ids), 'PX', ARGV[2])
if ARGV[1] == '' then return ids end
local bound = tonumber(ARGV[1])
local excess = redis.call('XLEN', KEYS[1]) - bound
if excess <= 0 then return ids end
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq), ms
end
local floor, floorMs, floorSeq
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local info = {}
  for j = 1, #g, 2 do info[g[j]] = g[j + 1] end
  local need
  if info['pending'] > 0 then
    need = redis.call('XPENDING', KEYS[1], info['name'])[2]
  else
    -- Built from the id's own digits: a Lua number would print a long one in exponent form.
    local _, seq, msText = parse(info['last-delivered-id'])
    need = msText .. '-' .. string.format('%d', seq + 1)
  end
  local ms, seq = parse(need)
  if floor == nil or ms < floorMs or (ms == floorMs and seq < floorSeq) then
    floor, floorMs, floorSeq = need, ms, seq
  end
end
if floor == nil then
  redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', bound)
else
  redis.call('XTRIM', KEYS[1], 'MINID', '~', floor, 'LIMIT', excess)
end
return ids
`

/**
 * One batch for a consumer, in one round trip: first reclaim messages idle longer than the claim
 * time (a consumer that crashed or failed), moving those delivered more than the limit to the
 * dead-letter stream; then new messages. Creates the group (and the stream) when missing.
 * ARGV: 1 group, 2 consumer, 3 count, 4 claim idle ms, 5 max deliveries, 6 where a new group
 * starts ('0' or '$'), 7 now (ms, for the dead letter's record), 8.. ids the previous batch
 * finished (acknowledged first: one round trip per batch instead of two).
 * → { messages [[id, payload, deliveries], ...], reclaimed, dead-lettered }
 */
export const RECEIVE = `
local group, consumer, count = ARGV[1], ARGV[2], tonumber(ARGV[3])
if #ARGV > 7 then redis.call('XACK', KEYS[1], group, unpack(ARGV, 8)) end
local function ensure_group()
  local ok = redis.pcall('XGROUP', 'CREATE', KEYS[1], group, ARGV[6], 'MKSTREAM')
  if type(ok) == 'table' and ok.err and not string.find(ok.err, 'BUSYGROUP') then
    return redis.error_reply(ok.err)
  end
end
local function field(fields, name)
  for i = 1, #fields, 2 do if fields[i] == name then return fields[i + 1] end end
  return nil
end
local out, reclaimed, dead = {}, 0, 0
local claim = redis.pcall('XAUTOCLAIM', KEYS[1], group, consumer, ARGV[4], '0-0', 'COUNT', count)
if type(claim) == 'table' and claim.err then
  if not string.find(claim.err, 'NOGROUP') then return redis.error_reply(claim.err) end
  ensure_group()
  claim = {'0-0', {}, {}}
end
for _, entry in ipairs(claim[2]) do
  if entry and entry ~= false then
    local id, fields = entry[1], entry[2]
    local info = redis.call('XPENDING', KEYS[1], group, id, id, 1)
    local deliveries = 1
    if info[1] then deliveries = tonumber(info[1][4]) end
    if deliveries > tonumber(ARGV[5]) then
      redis.call('XADD', KEYS[2], '*', 'id', id, 'p', field(fields, 'p') or 'null', 'deliveries', deliveries,
        'group', group, 'error', 'delivered more than ' .. ARGV[5] .. ' times without an ack', 'at', ARGV[7])
      redis.call('XACK', KEYS[1], group, id)
      dead = dead + 1
    else
      out[#out + 1] = {id, field(fields, 'p') or 'null', deliveries}
      reclaimed = reclaimed + 1
    end
  end
end
if #out < count then
  local read = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', count - #out, 'STREAMS', KEYS[1], '>')
  if read and read[1] then
    for _, entry in ipairs(read[1][2]) do
      out[#out + 1] = {entry[1], field(entry[2], 'p') or 'null', 1}
    end
  end
end
return {out, reclaimed, dead}
`

/**
 * Moves a message that failed its last allowed delivery to the dead-letter stream and acks it,
 * once: only a message still pending is moved, so the script run again (the HTTP client's retry
 * after a lost answer) or by two consumers at once writes one dead letter.
 * ARGV: 1 group, 2 id, 3 payload, 4 deliveries, 5 the error, 6 now (ms). → 1 moved, 0 not pending
 */
export const DEAD_LETTER = `
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', 'id', ARGV[2], 'p', ARGV[3], 'deliveries', ARGV[4], 'group', ARGV[1],
  'error', ARGV[5], 'at', ARGV[6])
return 1
`

/**
 * What `stats()` reports, in one round trip. → { length, dead-letter length, groups: [[name,
 * pending, last delivered id, consumers [[name, pending, idle ms, oldest pending's idle ms]], lag]] }
 * A group's lag (Redis 7: entries not yet delivered to it) is nil when Redis cannot tell (after
 * deletions or a trim past the group): -1 then.
 */
export const STATS = `
local function map(flat)
  local m = {}
  for i = 1, #flat, 2 do m[flat[i]] = flat[i + 1] end
  return m
end
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, redis.call('XLEN', KEYS[2]), {}} end
local groups = {}
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local gm = map(g)
  local consumers = {}
  for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], gm['name'])) do
    local cm = map(c)
    local oldest = redis.call('XPENDING', KEYS[1], gm['name'], '-', '+', 1, cm['name'])
    local age = -1
    if oldest[1] then age = oldest[1][3] end
    consumers[#consumers + 1] = {cm['name'], cm['pending'], cm['idle'], age}
  end
  local lag = gm['lag']
  if type(lag) ~= 'number' then lag = -1 end
  groups[#groups + 1] = {gm['name'], gm['pending'], gm['last-delivered-id'], consumers, lag}
end
return {redis.call('XLEN', KEYS[1]), redis.call('XLEN', KEYS[2]), groups}
`

/** The dead letters, oldest first. ARGV: 1 how many. → [[id, [field, value, ...]], ...] */
export const DEAD_LETTERS = `
return redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', ARGV[1])
`
