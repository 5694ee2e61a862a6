/**
 * The commands a Redis Cluster cannot run as sent: multi-key commands whose keys live in several
 * slots (split by slot, run in parallel, merged) and keyspace-wide commands (fanned out to every
 * master). Everything else is routed by ioredis by the slot of its first key.
 */
import calculateSlot from 'cluster-key-slot'
import type { Redis } from 'ioredis'
import type { CommandArgs, CommandInfo } from './command-table.js'
import type { CommandTarget } from './raw-call.js'
import type { Upstream } from './upstream.js'

/** Runs a command through ioredis, raw replies (Buffers) so binary values survive. */
export type RawCall = (target: CommandTarget, command: CommandArgs) => Promise<unknown>

const SPLITTABLE = new Set(['mget', 'mset', 'del', 'unlink', 'exists', 'touch'])
const FANOUT = new Set(['keys', 'scan', 'dbsize', 'randomkey', 'flushdb', 'flushall'])
const EVERY_MASTER = new Set([
  'script load',
  'script flush',
  'script exists',
  'function load',
  'function delete',
  'function flush',
  'function restore',
])

/**
 * Says whether a command needs cluster-specific handling, and returns the handler if so.
 * @returns undefined when ioredis's own slot routing is right for this command
 */
export function clusterHandler(
  command: CommandArgs,
  info: CommandInfo,
): ((upstream: Upstream, call: RawCall) => Promise<unknown>) | undefined {
  if (SPLITTABLE.has(info.name) && command.length > 2) {
    const keyArgs = info.name === 'mset' ? everyOther(command.length - 1) : range(command.length - 1)
    const slots = new Set(keyArgs.map((i) => calculateSlot(command[i + 1]!)))
    if (slots.size > 1) return (upstream, call) => splitBySlot(upstream, call, command, info.name)
    return undefined
  }
  if (info.keyIndexes.length > 1) {
    // Any other multi-key command must stay in one slot; say so in Redis's words (ioredis would
    // refuse it client-side with a message of its own that looks like a connection failure).
    const first = calculateSlot(command[info.keyIndexes[0]! + 1]!)
    if (info.keyIndexes.some((i) => calculateSlot(command[i + 1]!) !== first)) {
      return () => Promise.reject(replyError("CROSSSLOT Keys in request don't hash to the same slot"))
    }
  }
  if (FANOUT.has(info.name)) return (upstream, call) => fanOut(upstream, call, command, info.name)
  if (info.sub !== undefined && EVERY_MASTER.has(`${info.name} ${info.sub}`)) {
    return (upstream, call) => everyMaster(upstream, call, command, info.sub === 'exists')
  }
  return undefined
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i)
}

function everyOther(n: number): number[] {
  return Array.from({ length: Math.floor(n / 2) }, (_, i) => i * 2)
}

async function splitBySlot(
  upstream: Upstream,
  call: RawCall,
  command: CommandArgs,
  name: string,
): Promise<unknown> {
  const args = command.slice(1)
  const step = name === 'mset' ? 2 : 1
  const groups = new Map<number, number[]>() // slot -> argument positions of its keys
  for (let i = 0; i < args.length; i += step) {
    const slot = calculateSlot(args[i]!)
    const group = groups.get(slot)
    if (group) group.push(i)
    else groups.set(slot, [i])
  }
  const parts = [...groups.values()]
  // One command per slot; those bound for the same node leave in one write (the call batches them).
  const replies = await Promise.all(
    parts.map((positions) => {
      const part = positions.flatMap((i) => args.slice(i, i + step))
      return call(upstream.client, [command[0], ...part])
    }),
  )
  if (name === 'mget') {
    const merged: unknown[] = new Array(args.length)
    parts.forEach((positions, p) => {
      const values = replies[p] as unknown[]
      positions.forEach((pos, j) => {
        merged[pos] = values[j]
      })
    })
    return merged
  }
  if (name === 'mset') return 'OK'
  // DEL, UNLINK, EXISTS, TOUCH: counts add up (EXISTS counts a repeated key each time, per slot too).
  return replies.reduce<number>((sum, n) => sum + Number(n), 0)
}

async function fanOut(
  upstream: Upstream,
  call: RawCall,
  command: CommandArgs,
  name: string,
): Promise<unknown> {
  const masters = upstream.masters()
  switch (name) {
    case 'keys': {
      const lists = await Promise.all(masters.map((m) => call(m, command) as Promise<unknown[]>))
      return lists.flat()
    }
    case 'dbsize': {
      const sizes = await Promise.all(masters.map((m) => call(m, command)))
      return sizes.reduce<number>((sum, n) => sum + Number(n), 0)
    }
    case 'randomkey': {
      // Start at a random master and take the first that has a key.
      const start = Math.floor(Math.random() * masters.length)
      for (let i = 0; i < masters.length; i++) {
        const key = await call(masters[(start + i) % masters.length]!, command)
        if (key !== null) return key
      }
      return null
    }
    case 'scan':
      return scanCluster(masters, call, command)
    default: {
      // FLUSHDB / FLUSHALL (admin only): every master must succeed.
      await Promise.all(masters.map((m) => call(m, command)))
      return 'OK'
    }
  }
}

/**
 * SCAN over the whole cluster with one cursor. The proxy's cursor encodes the master's position
 * and that master's own cursor: `nodeCursor × masters + position`. Cursor 0 starts at the first
 * master; when a master's scan ends, the next cursor starts the next master at 0; the final 0
 * comes only after the last master. Returned as a string, as Redis returns cursors.
 */
async function scanCluster(masters: Redis[], call: RawCall, command: CommandArgs): Promise<unknown> {
  const n = BigInt(masters.length)
  let cursor: bigint
  try {
    cursor = BigInt(command[1] ?? '')
    if (cursor < 0n) throw new RangeError('negative')
  } catch {
    return Promise.reject(replyError('ERR invalid cursor'))
  }
  const position = Number(cursor % n)
  const nodeCursor = cursor / n
  const master = masters[position]!
  const reply = (await call(master, [command[0], nodeCursor.toString(), ...command.slice(2)])) as [
    Buffer | string,
    unknown[],
  ]
  const next = BigInt(reply[0].toString())
  let encoded: bigint
  if (next !== 0n) encoded = next * n + BigInt(position)
  else if (position + 1 < masters.length) encoded = BigInt(position + 1)
  else encoded = 0n
  return [encoded.toString(), reply[1]]
}

async function everyMaster(
  upstream: Upstream,
  call: RawCall,
  command: CommandArgs,
  andReplies: boolean,
): Promise<unknown> {
  const replies = await Promise.all(upstream.masters().map((m) => call(m, command)))
  if (!andReplies) return replies[0]
  // SCRIPT EXISTS: a script exists only if every master has it (the one a key maps to might not).
  const first = replies[0] as number[]
  return first.map((_, i) => (replies.every((r) => (r as number[])[i] === 1) ? 1 : 0))
}

/** An error shaped like the ones Redis returns (the proxy reports it as a Redis error). */
export function replyError(message: string): Error {
  const error = new Error(message)
  error.name = 'ReplyError'
  return error
}
