/**
 * What the proxy needs to know about a Redis command before it runs it: which arguments are keys,
 * whether it only reads, whether it blocks, whether it may hurt a shared cluster, and whether it
 * only makes sense on a connection of its own. Key positions and flags come from Redis's own
 * command table as `@ioredis/commands` ships it (the table ioredis routes cluster commands with),
 * so the proxy and its Redis client never disagree about where a command goes.
 */
import { createRequire } from 'node:module'
import { getKeyIndexes, hasFlag } from '@ioredis/commands'

/** A command as it arrived: name first, then arguments, all strings. */
export type CommandArgs = [string, ...string[]]

/** Commands with subcommands, whose flags live on the subcommand (`CONFIG GET`, `OBJECT ENCODING`). */
const CONTAINER_COMMANDS = new Set([
  'acl',
  'client',
  'cluster',
  'command',
  'config',
  'function',
  'latency',
  'memory',
  'module',
  'object',
  'pubsub',
  'script',
  'slowlog',
  'xgroup',
  'xinfo',
])

/**
 * Refused unless the token is an admin token: they can take down, reconfigure, wipe or spy on
 * a cluster that many applications share. Commands flagged `admin` in Redis's table are also refused.
 */
const DANGEROUS = new Set([
  'flushall',
  'flushdb',
  'config',
  'shutdown',
  'debug',
  'monitor',
  'cluster',
  'acl',
  'replicaof',
  'slaveof',
  'migrate',
  'module',
  'save',
  'bgsave',
  'bgrewriteaof',
  'failover',
  'swapdb',
  'sync',
  'psync',
  'client',
  'script kill',
  'script flush',
  'function kill',
  'function flush',
  'function delete',
  'function restore',
  'latency reset',
  'slowlog reset',
])

/**
 * Never run over HTTP: they change the state of the connection they run on, and the proxy's
 * upstream connections are shared by every request (or there is a dedicated endpoint instead).
 */
// A Map, not an object literal: a name a client sends (`__proto__`, `constructor`) must not find
// Object.prototype's properties.
const CONNECTION_STATE = new Map<string, string>(
  Object.entries({
    multi: 'use POST /multi-exec',
    exec: 'use POST /multi-exec',
    discard: 'use POST /multi-exec',
    watch: 'use POST /multi-exec',
    unwatch: 'use POST /multi-exec',
    subscribe: 'use POST /subscribe/<channel>',
    psubscribe: 'use POST /psubscribe/<pattern>',
    ssubscribe: 'use POST /subscribe/<channel>',
    unsubscribe: 'close the /subscribe stream instead',
    punsubscribe: 'close the /psubscribe stream instead',
    sunsubscribe: 'close the /subscribe stream instead',
    select: 'the proxy serves one database',
    auth: 'authenticate to the proxy with a token',
    hello: 'the proxy speaks RESP2 to Redis',
    quit: 'close the HTTP connection instead',
    reset: 'it would reset a shared connection',
    readonly: 'the proxy manages cluster connections',
    readwrite: 'the proxy manages cluster connections',
    asking: 'the proxy follows ASK redirects itself',
    // Even with an admin token: these turn the shared connection into a replication link or change
    // how it replies, and every later command on it would fail (the fuzz test found SYNC doing it).
    monitor: 'use POST /monitor',
    sync: 'a replication stream would take over a shared connection',
    psync: 'a replication stream would take over a shared connection',
    replconf: 'a replication stream would take over a shared connection',
    'client reply': 'it would change how a shared connection replies',
    'client tracking': 'it would change how a shared connection replies',
    'client caching': 'it would change how a shared connection replies',
  }),
)

/** Read commands that Redis's table does not flag `readonly` but that touch no data. */
const HARMLESS_KEYLESS = new Set(['ping', 'echo', 'time', 'lastsave', 'dbsize', 'command'])

/** Everything the proxy decides about one command. */
export interface CommandInfo {
  /** Lower-case command name (`get`, `config`). */
  name: string
  /** Lower-case subcommand for container commands (`get` in `CONFIG GET`), else undefined. */
  sub: string | undefined
  /** Redis knows the command (unknown ones are passed to Redis for its own error text). */
  known: boolean
  /** Indexes (into the arguments after the name) of the key arguments. */
  keyIndexes: number[]
  /** The command only reads data. */
  readOnly: boolean
  /** Admin token required. */
  dangerous: boolean
  /** Why the command is never accepted over HTTP, if it is not. */
  refusedBecause: string | undefined
  /** It blocks its connection (BLPOP, XREAD BLOCK ...): it needs a dedicated connection. */
  blocking: boolean
  /** A script or function call (its body may reach undeclared keys). */
  script: boolean
  /**
   * The arguments do not fit the command's shape (wrong arity, a key position past the end, an
   * unparsable key count). Such a command must not reach ioredis's cluster routing, which throws
   * outside any promise on a missing key; it is sent to one node so Redis answers with its own error.
   */
  malformed: boolean
}

/** What depends on the command's name (and subcommand) only: computed once per name. */
interface StaticInfo {
  known: boolean
  readOnly: boolean
  dangerous: boolean
  refusedBecause: string | undefined
  blockingFlag: boolean
  script: boolean
  subTakesKey: boolean
}

// Bounded: only names Redis knows are cached (a client inventing names cannot grow it).
const staticCache = new Map<string, StaticInfo>()

function staticInfo(name: string, sub: string | undefined): StaticInfo {
  const cacheKey = sub === undefined ? name : `${name} ${sub}`
  const cached = staticCache.get(cacheKey)
  if (cached) return cached
  const known = isKnownCommand(name)
  const flag = (f: string) =>
    (known && hasFlag(name, f)) || (sub !== undefined && subcommandHasFlag(name, sub, f))
  const info: StaticInfo = {
    known,
    readOnly: flag('readonly') || (HARMLESS_KEYLESS.has(name) && sub === undefined) || name === 'command',
    dangerous: DANGEROUS.has(name) || (sub !== undefined && DANGEROUS.has(`${name} ${sub}`)) || flag('admin'),
    refusedBecause:
      CONNECTION_STATE.get(name) ?? (sub === undefined ? undefined : CONNECTION_STATE.get(`${name} ${sub}`)),
    blockingFlag: flag('blocking') || name === 'wait' || name === 'waitaof',
    script: SCRIPT_COMMANDS.has(name),
    subTakesKey: sub !== undefined && subcommandTakesKey(name, sub),
  }
  if (known && (sub === undefined || subcommandEntry(name, sub) !== undefined))
    staticCache.set(cacheKey, info)
  return info
}

const SCRIPT_COMMANDS = new Set(['eval', 'evalsha', 'fcall', 'eval_ro', 'evalsha_ro', 'fcall_ro'])

/**
 * Classifies a command.
 * @param command name and arguments, as strings
 */
export function describeCommand(command: CommandArgs): CommandInfo {
  const byCount = positionalCache.get(command[0])
  const cached = byCount?.[command.length]
  if (cached !== undefined) return cached
  const info = describeAnew(command)
  if (isPositional(command[0], info) && command.length <= MAX_CACHED_LENGTH) {
    let counts = byCount
    if (counts === undefined) {
      counts = []
      positionalCache.set(command[0], counts)
    }
    Object.freeze(info.keyIndexes)
    counts[command.length] = Object.freeze(info)
  }
  return info
}

/**
 * Descriptions of commands whose description depends only on the name as sent and the number of
 * words (no subcommand, keys at fixed positions), by name and then by length: GET, SET, HSET,
 * MGET ... The result is frozen and shared. Why: describing anew cost 0.36 µs a command (a
 * lower-cased copy, an argument copy, a key-position walk and a new object), 100 times in a
 * 100-command pipeline.
 */
const positionalCache = new Map<string, Array<CommandInfo | undefined>>()
/** Longest command (in words) whose description is kept: the common ones are short. */
const MAX_CACHED_LENGTH = 16

/**
 * Whether a description depends on nothing but the name as sent and the word count. Only names a
 * client sends in one case (all lower or all upper) are kept, so that the cache is bounded by the
 * command table, whatever a client sends.
 */
function isPositional(sent: string, info: CommandInfo): boolean {
  if (!info.known || info.sub !== undefined || CONTAINER_COMMANDS.has(info.name)) return false
  if (sent !== info.name && sent !== info.name.toUpperCase()) return false
  const entry = entryOf(info.name)
  return entry !== undefined && entry.subcommands === undefined && !entry.flags.includes('movablekeys')
}

function describeAnew(command: CommandArgs): CommandInfo {
  const name = command[0].toLowerCase()
  const args = command.slice(1)
  const sub = CONTAINER_COMMANDS.has(name) && args[0] !== undefined ? args[0].toLowerCase() : undefined
  const fixed = staticInfo(name, sub)
  const { known } = fixed

  let keyIndexes: number[] = []
  let malformed = known && !arityFits(name, sub, command.length)
  if (known && !malformed) {
    try {
      keyIndexes = getKeyIndexes(name, args)
    } catch {
      // e.g. EVAL with a non-numeric numkeys: Redis will say what is wrong.
      malformed = true
    }
    if (keyIndexes.some((i) => i >= args.length)) malformed = true
    // Key/value pairs: an odd count is an arity error Redis reports; the table's arity cannot say it.
    if ((name === 'mset' || name === 'msetnx') && args.length % 2 !== 0) malformed = true
  }
  // Subcommands that name a key (OBJECT ENCODING key, XINFO STREAM key, XGROUP CREATE key ...):
  // @ioredis/commands only knows the container's positions, so take the key after the subcommand.
  if (keyIndexes.length === 0 && fixed.subTakesKey && args.length > 1) keyIndexes = [1]

  return {
    name,
    sub,
    known,
    keyIndexes,
    readOnly: fixed.readOnly,
    dangerous: fixed.dangerous,
    refusedBecause: fixed.refusedBecause,
    // XREAD and XREADGROUP block only with BLOCK; the table flags them blocking regardless.
    blocking:
      name === 'xread' || name === 'xreadgroup'
        ? args.some((a) => a.toLowerCase() === 'block')
        : fixed.blockingFlag,
    script: fixed.script,
    malformed,
  }
}

/** Redis's arity rule: N > 0 is exactly N words (name included), -N is at least N. */
function arityFits(name: string, sub: string | undefined, length: number): boolean {
  const entry = entryOf(name)
  if (!entry) return true
  const fits = (arity: number) => (arity >= 0 ? length === arity : length >= -arity)
  if (!fits(entry.arity)) return false
  const subEntry = sub !== undefined ? subcommandEntry(name, sub) : undefined
  return subEntry ? fits(subEntry.arity) : true
}

function subcommandHasFlag(name: string, sub: string, flag: string): boolean {
  const entry = subcommandEntry(name, sub)
  return entry?.flags.includes(flag) ?? false
}

function subcommandTakesKey(name: string, sub: string): boolean {
  const entry = subcommandEntry(name, sub)
  return entry !== undefined && entry.keyStart > 0
}

interface TableEntry {
  arity: number
  flags: string[]
  keyStart: number
  subcommands?: Record<string, TableEntry>
}

// The raw table has the subcommands' flags and key positions that the helper functions do not expose.
let table: Record<string, TableEntry> | undefined
function subcommandEntry(name: string, sub: string): TableEntry | undefined {
  const subcommands = entryOf(name)?.subcommands
  return subcommands !== undefined && Object.hasOwn(subcommands, sub) ? subcommands[sub] : undefined
}

/**
 * The table's entry for a lower-case name. Own properties only: a client can send `__proto__` or
 * `constructor`, which a plain lookup finds on Object.prototype (the fuzz test sent `__proto__`).
 */
function entryOf(name: string): TableEntry | undefined {
  table ??= loadTable()
  return Object.hasOwn(table, name) ? table[name] : undefined
}

/** Whether Redis has a command of this lower-case name (`__proto__` and the like are not). */
export function isKnownCommand(name: string): boolean {
  return entryOf(name) !== undefined
}

function loadTable(): Record<string, TableEntry> {
  // The package's data file; its helpers read the same JSON.
  return createRequire(import.meta.url)('@ioredis/commands/built/commands.json') as Record<string, TableEntry>
}
