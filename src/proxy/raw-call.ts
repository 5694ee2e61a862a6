/**
 * Sends one command through ioredis and gets its raw reply (Buffers, so binary values survive),
 * in the RESP2 shape Redis gave it.
 *
 * Every command goes through `sendCommand` under its upper-case name: ioredis reshapes some
 * replies (HGETALL into an object, VSIM flattened) and some arguments by lower-case command name,
 * and registers no transformer under the upper-case one. Key positions, and so cluster slots,
 * are looked up without regard to case.
 */
import { type Cluster, Command, type Redis } from 'ioredis'
import { type CommandArgs, isKnownCommand } from './command-table.js'
import { type BatchTarget, batchWritesThisTurn } from './turn-batching.js'

/** Anything that can send a command: the shared client, a node, a dedicated connection, a MULTI. */
export type CommandTarget = Pick<Redis, 'sendCommand'> | Pick<Cluster, 'sendCommand'>

/**
 * `get` → `GET`, as the clients spell the names Redis knows: one lookup instead of a new string
 * per command. Bounded: spellings in mixed case are many.
 */
const UPPER_NAMES = new Map<string, string>()
const MAX_UPPER_NAMES = 1024

function upperName(name: string): string {
  const known = UPPER_NAMES.get(name)
  if (known !== undefined) return known
  const upper = name.toUpperCase()
  if (UPPER_NAMES.size < MAX_UPPER_NAMES && isKnownCommand(name.toLowerCase())) UPPER_NAMES.set(name, upper)
  return upper
}

/**
 * Sends a command and resolves with its raw reply; rejects with Redis's `ReplyError` or a
 * connection error. On a MULTI or a pipeline, the command is queued and the reply arrives through
 * `exec()` instead.
 */
export function rawCall(target: CommandTarget, [name, ...args]: CommandArgs): Promise<unknown> {
  return target.sendCommand(new Command(upperName(name), args, { replyEncoding: null })) as Promise<unknown>
}

/**
 * `rawCall` on a shared connection (the proxy's client, or one of its cluster nodes): the write
 * leaves with the others of this turn of the event loop (see `turn-batching.ts`).
 */
export function batchedCall(target: CommandTarget, command: CommandArgs): Promise<unknown> {
  batchWritesThisTurn(target as unknown as BatchTarget)
  return rawCall(target, command)
}
